// Fault injection for cluster tests: a TCP proxy in front of each node, so a
// test can cut links (both ways or one way), heal them, and reset connections.
//
// Node i listens on 127.0.0.<i+2> and advertises its proxy (on the same
// address, another port), so every peer link to node i goes through proxy i.
// Peer links originate from the dialling node's --host, so a proxy tells the
// nodes dialling it apart by source address. A cut holds the bytes (the proxy
// stops reading that direction) instead of dropping them, as a network path
// that delivers nothing would: the stream is never corrupted, the sender's
// failure detection notices the silence, and healing delivers what waited.

import net from 'node:net'
import { KeystoneNode, type NodeOptions } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { waitConverged } from './cluster.js'
import type { Teardown } from './server.js'

interface Piped {
  readonly source: string
  readonly client: net.Socket
  readonly upstream: net.Socket
}

/** A proxy in front of one node. */
export class NodeProxy {
  addr = ''
  /** Where connections go: the node's real address (changes when the node restarts). */
  target: { host: string, port: number } | null = null
  private readonly server: net.Server
  private readonly conns = new Set<Piped>()
  /** Sources whose bytes toward the node are held. */
  private readonly holdIn = new Set<string>()
  /** Sources to which the node's bytes are held. */
  private readonly holdOut = new Set<string>()
  /**
   * Bytes toward the node go in slices of this size, a millisecond apart (0:
   * as they come): a slow link, on which a large message arrives in many reads.
   */
  slice = 0
  /** Set true to keep every byte that passes, both ways (what a wiretap on the link would see). */
  record = false
  /** The bytes passed while `record` was set, in arrival order. */
  readonly recorded: Buffer[] = []

  constructor (readonly host: string) {
    this.server = net.createServer(socket => this.accept(socket))
  }

  async listen (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, this.host, resolve)
    })
    this.addr = `${this.host}:${(this.server.address() as net.AddressInfo).port}`
  }

  /** Holds bytes from `source` to the node (`in`) or from the node to `source` (`out`). */
  hold (source: string, direction: 'in' | 'out'): void {
    (direction === 'in' ? this.holdIn : this.holdOut).add(source)
    this.apply()
  }

  heal (): void {
    this.holdIn.clear()
    this.holdOut.clear()
    this.apply()
  }

  /** Destroys every connection through the proxy (each side sees a reset). */
  reset (): void {
    for (const c of this.conns) {
      c.client.destroy()
      c.upstream.destroy()
    }
    this.conns.clear()
  }

  async close (): Promise<void> {
    this.reset()
    if (this.server.listening) await new Promise(resolve => this.server.close(resolve))
  }

  private accept (client: net.Socket): void {
    const target = this.target
    if (target === null) {
      client.destroy()
      return
    }
    const source = client.remoteAddress?.replace(/^::ffff:/, '') ?? '?'
    const upstream = net.connect({ host: target.host, port: target.port })
    const c: Piped = { source, client, upstream }
    this.conns.add(c)
    const end = (): void => {
      this.conns.delete(c)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.on('data', chunk => {
      if (this.record) this.recorded.push(chunk)
      if (upstream.destroyed) return
      if (this.slice === 0) {
        upstream.write(chunk)
        return
      }
      client.pause()
      let at = 0
      const next = (): void => {
        if (upstream.destroyed) return
        upstream.write(chunk.subarray(at, at + this.slice))
        at += this.slice
        if (at < chunk.length) setTimeout(next, 1)
        else this.applyTo(c)
      }
      next()
    })
    upstream.on('data', chunk => {
      if (this.record) this.recorded.push(chunk)
      if (!client.destroyed) client.write(chunk)
    })
    this.applyTo(c)
  }

  private apply (): void {
    for (const c of this.conns) this.applyTo(c)
  }

  private applyTo (c: Piped): void {
    if (this.holdIn.has(c.source)) c.client.pause()
    else c.client.resume()
    if (this.holdOut.has(c.source)) c.upstream.pause()
    else c.upstream.resume()
  }
}

export interface FaultNode {
  /** The node's own address (also where its peer links come from). */
  readonly host: string
  readonly proxy: NodeProxy
  node: KeystoneNode
}

/**
 * In-process nodes behind proxies, on 127.0.0.2, 127.0.0.3, ... Everything is
 * closed when the test ends. Clients of the test connect to the nodes directly
 * (`node.address()`), so they reach every node whatever the cuts.
 */
export class FaultNet {
  readonly nodes: FaultNode[] = []

  constructor (private readonly t: Teardown, private readonly options: Partial<NodeOptions> = {}) {}

  /** Starts `count` nodes, each joining the first through its proxy; resolves once all see each other up. */
  async start (count: number, perNode: (i: number) => Partial<NodeOptions> = () => ({})): Promise<KeystoneNode[]> {
    for (let i = 0; i < count; i++) {
      const host = `127.0.0.${this.nodes.length + 2}`
      const proxy = new NodeProxy(host)
      this.t.teardown(() => proxy.close())
      await proxy.listen()
      const join = this.nodes[0]?.proxy.addr
      const node = await this.launch(host, proxy, { ...perNode(i), ...(join === undefined ? {} : { join }) })
      this.nodes.push({ host, proxy, node })
    }
    await waitConverged(this.live)
    return this.live
  }

  get live (): KeystoneNode[] {
    return this.nodes.map(n => n.node)
  }

  /** Both directions between nodes a and b carry nothing. */
  cut (a: number, b: number): void {
    this.cutOneWay(a, b)
    this.cutOneWay(b, a)
  }

  /** Bytes from node `from` to node `to` are held, on both links between them; the other way flows. */
  cutOneWay (from: number, to: number): void {
    const f = this.at(from)
    const d = this.at(to)
    d.proxy.hold(f.host, 'in') // from's link to `to`: its requests
    f.proxy.hold(d.host, 'out') // to's link to `from`: from's replies
  }

  /** Node i reaches nobody and nobody reaches it. */
  isolate (i: number): void {
    for (let j = 0; j < this.nodes.length; j++) if (j !== i) this.cut(i, j)
  }

  heal (): void {
    for (const n of this.nodes) n.proxy.heal()
  }

  /** Resets every connection through node i's proxy. */
  reset (i: number): void {
    this.at(i).proxy.reset()
  }

  /**
   * Closes node i and starts it again at the same addresses, joining via `via`:
   * on its data directory when `keepData` (the same id, its data loaded), else
   * a new node (new id, empty store, memory only).
   */
  async restart (i: number, via: number, keepData = false): Promise<KeystoneNode> {
    const n = this.at(i)
    await n.node.close()
    const dataDir = keepData ? n.node.options.dataDir : ''
    n.node = await this.launch(n.host, n.proxy, { join: this.at(via).proxy.addr, dataDir })
    return n.node
  }

  private at (i: number): FaultNode {
    const n = this.nodes[i]
    if (n === undefined) throw new Error(`no node ${i}`)
    return n
  }

  private async launch (host: string, proxy: NodeProxy, extra: Partial<NodeOptions>): Promise<KeystoneNode> {
    const node = new KeystoneNode({ dataDir: '', ...this.options, ...extra, host, port: 0, advertise: proxy.addr }, { log: silentLogger })
    this.t.teardown(() => node.close())
    // The proxy needs the node's port before the node joins: the node listens first, then joins.
    proxy.target = null
    const listening = node.start()
    listening.catch(() => {}) // awaited below
    const deadline = Date.now() + 5000
    while (node.address().port === 0) {
      if (Date.now() > deadline) throw new Error('the node did not listen')
      await new Promise(resolve => setImmediate(resolve))
    }
    proxy.target = node.address()
    await listening
    return node
  }
}
