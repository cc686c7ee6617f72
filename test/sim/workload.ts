// Client traffic and what it proves: each client (one per node, never cut
// off from it) sends one command at a time; every local write a node makes
// is matched to the command that made it, so the oracle knows the version of
// each acknowledged write and delete.

import type { RespClient } from '../../lib/client/resp-client.js'
import { RespClient as Client } from '../../lib/client/resp-client.js'
import { RespError, type RespValue } from '../../lib/protocol/reply-parser.js'
import type { Entry, Version } from '../../lib/store/entry.js'
import { Owner } from './scheduler.js'
import type { SimNode, SimWorld } from './sim-node.js'

export type OpKind = 'set' | 'del' | 'flushall' | 'wait'

export interface Op {
  readonly id: number
  readonly node: string
  /** The id of the incarnation that took it (a removed id's writes may be lost). */
  readonly nodeId: string
  readonly kind: OpKind
  readonly key: string
  readonly value: string
  /** Absolute expiry by the node's clock (SET ... PX), 0 none. */
  expiresAt: number
  readonly sentAt: number
  status: 'pending' | 'ok' | 'error' | 'lost'
  reply: string
  /** Lost with a power loss before any other node had it: not bound to survive. */
  mayBeLost?: boolean
  /** The local writes it made, by key (a FLUSHALL makes many). */
  readonly writes: Map<string, Version & { deleted: boolean }>
}

export class Workload {
  readonly ops: Op[] = []
  private readonly clients = new Map<string, { client: RespClient, incarnation: number, busy: boolean }>()
  private readonly owner = new Owner('clients')

  constructor (private readonly world: SimWorld) {}

  /** Watches a new incarnation's local writes. */
  watch (sim: SimNode): void {
    const node = sim.node
    if (node === null) return
    const trace = process.env.SIM_TRACE_KEY
    node.store.onWrite((key, entry, local) => {
      if (local) this.attribute(sim.addr, key, entry)
      if (key === trace) this.world.note(`${sim.addr} ${local ? 'wrote' : 'merged'} ${key} = ${entry.value === null ? '(deleted)' : entry.value.toString('latin1')} v${entry.wall}.${entry.logical}@${entry.node.slice(0, 6)}`)
    })
  }

  /** Sends `args` to the node now, if its client is idle; false if it is busy or the node is down. */
  send (sim: SimNode, kind: OpKind, key: string, args: string[]): boolean {
    if (!sim.alive || sim.node === null) return false
    const c = this.client(sim)
    if (c === null || c.busy) return false
    const op: Op = {
      id: this.ops.length + 1,
      node: sim.addr,
      nodeId: sim.disk.nodeId,
      kind,
      key,
      value: kind === 'set' ? (args[2] ?? '') : '',
      expiresAt: 0,
      sentAt: this.world.sched.now,
      status: 'pending',
      reply: '',
      writes: new Map()
    }
    this.ops.push(op)
    c.busy = true
    this.pending.set(sim.addr, op)
    c.client.call(args).then(reply => {
      op.status = reply instanceof RespError ? 'error' : 'ok'
      op.reply = show(reply)
    }, () => { op.status = 'lost' }).finally(() => {
      c.busy = false
      if (this.pending.get(sim.addr) === op) this.pending.delete(sim.addr)
    })
    return true
  }

  private readonly pending = new Map<string, Op>()

  /**
   * A power loss took these local writes of node `nodeId` with it, and no
   * other node held them: acknowledged or not, they may be gone (--fsync
   * everysec loses up to a second of what only this node had).
   */
  lostWithPower (nodeId: string, lost: ReadonlyArray<{ key: string, entry: Entry }>): void {
    for (const { key, entry } of lost) {
      if (entry.node !== nodeId) continue
      for (const op of this.ops) {
        const w = op.writes.get(key)
        if (w !== undefined && w.node === entry.node && w.wall === entry.wall && w.logical === entry.logical) op.mayBeLost = true
      }
    }
  }

  private attribute (addr: string, key: string, entry: Entry): void {
    const op = this.pending.get(addr)
    if (op === undefined) return
    const mine = op.kind === 'flushall' ? entry.value === null : op.key === key && (op.kind === 'del' ? entry.value === null : entry.value?.toString('latin1') === op.value)
    if (!mine) return
    if (op.kind === 'set') op.expiresAt = entry.expiresAt
    op.writes.set(key, { wall: entry.wall, logical: entry.logical, node: entry.node, deleted: entry.value === null })
  }

  private client (sim: SimNode): { client: RespClient, incarnation: number, busy: boolean } | null {
    const known = this.clients.get(sim.addr)
    if (known !== undefined && known.incarnation === sim.incarnation) return known
    const node = sim.node
    if (node === null) return null
    const stream = this.world.net.connect(`client>${sim.addr}`, this.owner, sim.addr, { owner: sim.owner, accept: (s, remote) => node.server.handle(s, remote) })
    const fresh = { client: Client.over(stream, () => this.world.sched.now), incarnation: sim.incarnation, busy: false }
    this.clients.set(sim.addr, fresh)
    return fresh
  }
}

function show (reply: RespValue): string {
  if (Buffer.isBuffer(reply)) return reply.toString('latin1')
  if (Array.isArray(reply)) return `[${reply.map(show).join(',')}]`
  return String(reply)
}
