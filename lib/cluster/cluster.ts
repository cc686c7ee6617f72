import net from 'node:net'
import type { Session } from '../commands/index.js'
import { KeystoneError } from '../errors.js'
import type { Logger } from '../log.js'
import { parseAddress } from '../options.js'
import { command, type Encoded } from '../protocol/reply.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { RespClient } from '../client/resp-client.js'
import type { Entry } from '../store/entry.js'
import type { Store } from '../store/store.js'
import { replRequest } from './entry-codec.js'
import { DEFAULT_TIMING, PeerLink, type LinkOwner, type LinkTiming } from './peer-link.js'
import { pushState } from './sync.js'

/** CONTRACT §Cluster commands: how MEMBERS shows a node. */
export type MemberState = 'up' | 'down' | 'joining' | 'syncing'

export interface Member {
  readonly addr: string
  /** Node id, once the peer has told us. */
  id: string
  readonly link: PeerLink
  /** What the peer says of itself (it may still be syncing). */
  reported: MemberState
  /** Admitted by JOIN and not reached yet. */
  joining: boolean
  writesReceived: number
  bytesReceived: number
  fullSyncsReceived: number
}

export interface ClusterSettings {
  /** This node's advertised HOST:PORT, if known yet. */
  advertise: string
  /** --host: peers are dialled from it when it is a specific IP. */
  host: string
  password: string
  timing?: Partial<LinkTiming>
}

/** How long a joining node keeps trying to reach the member it was pointed at, ms. */
const JOIN_PATIENCE_MS = 10_000

/**
 * Membership, peer links and replication (PROTOCOL.md §Cluster). Every member
 * has one outbound link; local writes go to every ready link and a client's
 * write is acknowledged once every ready link has acknowledged it (G1).
 */
export class Cluster implements LinkOwner {
  readonly members = new Map<string, Member>()
  /** This node's advertised HOST:PORT; set once the node listens. */
  advertise: string
  readonly password: string
  readonly localAddress: string | undefined
  readonly timing: LinkTiming
  selfState: MemberState = 'up'
  /** Sequence number of the latest local write. */
  seq = 0
  fullSyncsServed = 0
  /** Told the member addresses whenever a member is added (the data directory keeps them). */
  onMembersChanged: ((addrs: string[]) => void) | null = null
  private readonly peerOf = new WeakMap<Session, Member>()
  private readonly driftWarned = new Set<string>()
  private lastBarrier: { waits: Array<Promise<void>>, all: Promise<void> } | null = null

  constructor (readonly store: Store, readonly log: Logger, settings: ClusterSettings) {
    this.advertise = settings.advertise
    this.password = settings.password
    this.timing = { ...DEFAULT_TIMING, ...settings.timing }
    const host = settings.host
    this.localAddress = net.isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::' ? host : undefined
    store.onWrite((key, entry, local) => { if (local) this.replicate(key, entry) })
  }

  get nodeId (): string {
    return this.store.nodeId
  }

  /** Joins the cluster of the member at `seed` (PROTOCOL.md §Joining). */
  async join (seed: string): Promise<void> {
    this.selfState = 'joining'
    const { host, port } = parseAddress(seed, '--join')
    const deadline = Date.now() + JOIN_PATIENCE_MS
    let reply: RespValue | undefined
    while (reply === undefined) {
      let client: RespClient | undefined
      try {
        client = await RespClient.connect({ host, port, localAddress: this.localAddress, connectTimeoutMs: 2000 })
        if (this.password !== '') {
          const auth = await client.call(['AUTH', this.password])
          if (auth instanceof RespError) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: it refused our password (${auth.message})`)
        }
        reply = await client.call(['JOIN', this.advertise])
      } catch (err) {
        if (err instanceof KeystoneError || Date.now() > deadline) {
          throw err instanceof KeystoneError ? err : new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: ${(err as Error).message}`)
        }
        this.log.warn(`cannot reach ${seed} to join (${(err as Error).message}); retrying`)
        await new Promise(resolve => setTimeout(resolve, 500))
      } finally {
        client?.close()
      }
    }
    if (reply instanceof RespError) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: ${reply.message}`)
    if (!Array.isArray(reply)) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: unexpected reply to JOIN`)
    this.selfState = 'syncing'
    for (const item of reply) if (Buffer.isBuffer(item)) this.learn(item.toString('latin1'))
    this.log.info(`joined the cluster via ${seed}: ${this.members.size} other member(s); syncing`)
    if (this.members.size === 0) this.selfState = 'up'
  }

  /** JOIN: the node at `addr` asks to join; every member hears of it. Returns the member list. */
  admit (addr: string): string[] {
    const member = this.learn(addr)
    if (member !== undefined && member.link.status !== 'ready') member.joining = true
    this.log.info(`${addr} joins the cluster`)
    this.gossipNow()
    return [this.advertise, ...this.members.keys()]
  }

  /** Adds a member we heard of (and dials it); our own address is ignored. */
  learn (addr: string): Member | undefined {
    if (addr === this.advertise) return undefined
    let member = this.members.get(addr)
    if (member !== undefined) return member
    try {
      parseAddress(addr)
    } catch {
      this.log.warn(`ignoring a bad member address from a peer: ${addr}`)
      return undefined
    }
    member = { addr, id: '', link: new PeerLink(addr, this), reported: 'up', joining: false, writesReceived: 0, bytesReceived: 0, fullSyncsReceived: 0 }
    this.members.set(addr, member)
    // Once there is anyone to tell, deletes must leave tombstones (PROTOCOL.md §Versions).
    this.store.keepTombstones = true
    this.log.info(`new member ${addr}`)
    this.onMembersChanged?.([...this.members.keys()])
    member.link.start()
    return member
  }

  state (member: Member): MemberState {
    if (member.link.status === 'ready') return member.reported
    return member.joining ? 'joining' : 'down'
  }

  // ---- LinkOwner ----

  gossipRequest (): Encoded {
    return command(['GOSSIP', this.advertise, this.nodeId, this.selfState, ...this.members.keys()])
  }

  /** GOSSIP's reply: `[addr, id, state, member-addr...]` of the peer. */
  gossipReply (link: PeerLink, reply: RespValue): void {
    if (!Array.isArray(reply)) return
    const fields = reply.map(v => (Buffer.isBuffer(v) ? v.toString('latin1') : ''))
    const member = this.members.get(link.addr)
    if (member !== undefined) this.heard(member, fields[1] ?? '', fields[2] ?? 'up')
    for (const addr of fields.slice(3)) this.learn(addr)
  }

  /** GOSSIP received from a peer: learn it and everyone it knows. */
  gossipFrom (session: Session, from: string, id: string, state: string, addrs: string[]): string[] {
    session.isPeer = true
    const member = this.learn(from)
    if (member !== undefined) {
      this.peerOf.set(session, member)
      this.heard(member, id, state)
    }
    for (const addr of addrs) this.learn(addr)
    return [this.advertise, this.nodeId, this.selfState, ...this.members.keys()]
  }

  ready (link: PeerLink): void {
    const member = this.members.get(link.addr)
    if (member !== undefined) member.joining = false
    this.log.info(`peer ${link.addr} is up; sending it our state`)
    const started = Date.now()
    pushState(this.store, link)
      .then(async sent => {
        await link.request(command(['SYNCED', this.advertise]))
        link.stats.fullSyncsSent++
        this.fullSyncsServed++
        this.log.info(`state sent to ${link.addr}: ${sent} entries in ${Date.now() - started} ms`)
      })
      .catch(err => this.log.warn(`state transfer to ${link.addr} stopped: ${(err as Error).message}`))
  }

  down (link: PeerLink, reason: string): void {
    const member = this.members.get(link.addr)
    if (member !== undefined) member.joining = false
    this.log.warn(`peer ${link.addr} is down: ${reason}`)
  }

  // ---- replication ----

  private replicate (key: string, entry: Entry): void {
    this.seq++
    if (this.members.size === 0) return
    const request = replRequest(key, entry)
    for (const member of this.members.values()) member.link.replicate(request, this.seq)
  }

  /**
   * Resolves when every ready peer has acknowledged every local write so far;
   * null if they have. Writes whose batches are the same share one promise.
   */
  barrier (): Promise<void> | null {
    const waits: Array<Promise<void>> = []
    for (const member of this.members.values()) {
      const w = member.link.barrier(this.seq)
      if (w !== null) waits.push(w)
    }
    if (waits.length === 0) return null
    const last = this.lastBarrier
    if (last !== null && last.waits.length === waits.length && last.waits.every((w, i) => w === waits[i])) return last.all
    const all = Promise.all(waits).then(() => undefined)
    this.lastBarrier = { waits, all }
    return all
  }

  /** Peers that have acknowledged every local write so far (WAIT). */
  acknowledgedBy (): number {
    let n = 0
    for (const member of this.members.values()) if (member.link.status === 'ready' && member.link.ackedSeq >= this.seq) n++
    return n
  }

  /** A write from a peer (REPL). */
  applyRemote (session: Session, key: string, entry: Entry, bytes: number): void {
    const member = this.peerOf.get(session)
    if (member !== undefined) {
      member.writesReceived++
      member.bytesReceived += bytes
    }
    if (entry.wall > this.store.now() + this.store.clock.maxDriftMs && !this.driftWarned.has(entry.node)) {
      this.driftWarned.add(entry.node)
      this.log.warn(`node ${entry.node} writes with timestamps more than ${this.store.clock.maxDriftMs} ms ahead of our clock; our clock will not follow them (PROTOCOL.md §Versions)`)
    }
    this.store.merge(key, entry)
  }

  /** SYNCED from a peer: its whole state has arrived. */
  synced (session: Session, from: string): void {
    const member = this.peerOf.get(session) ?? this.members.get(from)
    if (member !== undefined) member.fullSyncsReceived++
    if (this.selfState === 'syncing') {
      this.selfState = 'up'
      this.log.info(`synced from ${from}; this node is up`)
      this.gossipNow()
    }
  }

  close (): void {
    for (const member of this.members.values()) member.link.close()
  }

  private heard (member: Member, id: string, state: string): void {
    if (id !== '' && member.id !== id) {
      if (member.id !== '') this.log.info(`member ${member.addr} has a new node id ${id} (restarted)`)
      member.id = id
    }
    if (state === 'up' || state === 'joining' || state === 'syncing') {
      if (member.reported !== state) this.log.info(`member ${member.addr} is ${state}`)
      member.reported = state
    }
  }

  /** Tells every ready peer our membership now rather than at the next heartbeat. */
  private gossipNow (): void {
    for (const member of this.members.values()) {
      if (member.link.status !== 'ready') continue
      member.link.request(this.gossipRequest()).then(
        reply => this.gossipReply(member.link, reply),
        () => { /* the link's own failure handling reports it */ }
      )
    }
  }
}
