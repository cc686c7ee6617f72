// Cluster test helpers: several in-process nodes on ephemeral ports, joined
// into one cluster and torn down by the test.

import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { ProtocolError } from '../../lib/errors.js'
import type { KeystoneNode, NodeOptions } from '../../lib/index.js'
import { RequestParser } from '../../lib/protocol/request-parser.js'
import type { RespClient } from '../../lib/client/resp-client.js'
import { plain, startNode, waitFor, type Teardown } from './server.js'

/** Whether `node` sees every node of `all` (itself aside) as up, and is up itself. */
export function seesAllUp (node: KeystoneNode, all: readonly KeystoneNode[]): boolean {
  const cluster = node.cluster
  if (cluster.selfState !== 'up') return false
  for (const other of all) {
    if (other === node) continue
    const member = cluster.members.get(other.cluster.advertise)
    if (member === undefined || cluster.state(member) !== 'up') return false
  }
  return true
}

/** Waits until every node of `nodes` sees all of them up. */
export async function waitConverged (nodes: readonly KeystoneNode[], timeoutMs = 5000): Promise<void> {
  await waitFor(() => nodes.every(n => seesAllUp(n, nodes)), timeoutMs, `${nodes.length} nodes to see each other up`)
}

/** Starts `count` nodes, each joining the first, and waits until MEMBERS shows all up everywhere. */
export async function startCluster (t: Teardown, count: number, options: Partial<NodeOptions> = {}): Promise<KeystoneNode[]> {
  const first = await startNode(t, options)
  const nodes = [first]
  for (let i = 1; i < count; i++) nodes.push(await startNode(t, { ...options, join: first.cluster.advertise }))
  await waitConverged(nodes)
  return nodes
}

/** MEMBERS at a node as address -> state, the node's own line included. */
export async function memberStates (client: RespClient): Promise<Map<string, string>> {
  const lines = plain(await client.call(['MEMBERS'])) as string[]
  return new Map(lines.map(line => line.split(' ', 2) as [string, string]))
}

/** One connection to a FakePeer: requests parsed in order, replies sent in order (or held). */
interface FakeConnection {
  readonly socket: net.Socket
  readonly parser: RequestParser
  held: boolean
  queue: string[]
}

/**
 * A stand-in peer: a TCP server speaking just enough RESP to be a member. It
 * answers AUTH with +OK; GOSSIP with its address, a 40-hex id and `up`; MREPL
 * with `mrepl(args)` (default: the entry count); DIGEST with an empty store's
 * root, so it is sent whole states; anything else with +OK. It
 * never dials anyone. `hold()` keeps the replies of the connections open now
 * (in order) until `release()`.
 */
export class FakePeer {
  readonly id = randomBytes(20).toString('hex')
  addr = ''
  mrepl: (args: Buffer[]) => string = args => `:${(args.length - 2) / 6}\r\n`
  /** Requests received, by command name in upper case. */
  readonly received = new Map<string, number>()
  /** Replies held back by hold() so far. */
  heldReplies = 0
  private readonly connections = new Set<FakeConnection>()
  private readonly server = net.createServer(socket => this.serve(socket))

  /** Listens on `port` (default: an ephemeral one; again on the same one after stopAccepting()). */
  async listen (port = 0): Promise<void> {
    await new Promise<void>(resolve => this.server.listen(port, '127.0.0.1', resolve))
    this.addr = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`
  }

  /** Stops accepting connections (a dial then fails); the open ones stay. */
  stopAccepting (): void {
    if (this.server.listening) this.server.close()
  }

  hold (): void {
    for (const c of this.connections) c.held = true
  }

  release (): void {
    for (const c of this.connections) {
      c.held = false
      if (c.queue.length > 0) c.socket.write(c.queue.join(''), 'latin1')
      c.queue = []
    }
  }

  async close (): Promise<void> {
    for (const c of this.connections) c.socket.destroy()
    if (this.server.listening) await new Promise(resolve => this.server.close(resolve))
  }

  private serve (socket: net.Socket): void {
    const c: FakeConnection = { socket, parser: new RequestParser(), held: false, queue: [] }
    this.connections.add(c)
    socket.on('error', () => {})
    socket.on('close', () => this.connections.delete(c))
    socket.on('data', (chunk: Buffer) => {
      c.parser.feed(chunk)
      for (let args = c.parser.next(); args !== null; args = c.parser.next()) {
        if (args instanceof ProtocolError) {
          socket.destroy()
          return
        }
        const reply = this.answer(args)
        if (c.held) {
          c.queue.push(reply)
          this.heldReplies++
        } else {
          socket.write(reply, 'latin1')
        }
      }
    })
  }

  private answer (args: Buffer[]): string {
    const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toUpperCase()
    this.received.set(name, (this.received.get(name) ?? 0) + 1)
    if (name === 'GOSSIP') return `*3\r\n$${this.addr.length}\r\n${this.addr}\r\n$40\r\n${this.id}\r\n$2\r\nup\r\n`
    if (name === 'MREPL') return this.mrepl(args)
    // An empty store's root: a node syncing with it sends its whole state (PROTOCOL.md §State transfer).
    if (name === 'DIGEST') return '$16\r\n0000000000000000\r\n'
    return '+OK\r\n'
  }
}

/** A FakePeer listening on 127.0.0.1, closed when the test ends. */
export async function startFakePeer (t: Teardown): Promise<FakePeer> {
  const fake = new FakePeer()
  t.teardown(() => fake.close())
  await fake.listen()
  return fake
}
