import { CommandError } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import type { Session } from '../commands/index.js'
import { KeystoneError } from '../errors.js'
import type { Logger } from '../log.js'
import { parseAddress } from '../options.js'
import { command, type Encoded } from '../protocol/reply.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import type { Entry } from '../store/entry.js'
import type { Store } from '../store/store.js'
import { Convergence, type SyncKind } from './convergence.js'
import { NODE_ID } from './entry-codec.js'
import { newMember, type Member, type MemberState } from './member.js'
import { MemberTimeout, RetiredIds } from './removal.js'
import { realRuntime, sleep, TlsVerifyError, type Cancel, type DialTls, type PeerClient, type Runtime } from './runtime.js'
import type { MemberRecord } from '../persistence/data-dir.js'
import { DEFAULT_TIMING, PeerLink, type LinkOwner, type LinkTiming } from './peer-link.js'
import { Replication } from './replication.js'

export type { Member, MemberState } from './member.js'

export interface ClusterSettings {
  /** This node's advertised HOST:PORT, if known yet. */
  advertise: string
  /** Local address peers are dialled from (--host when it is a specific IP). */
  localAddress?: string
  password: string
  timing?: Partial<LinkTiming>
  /** --member-timeout in ms (0: never), PROTOCOL.md §Member removal. */
  memberTimeoutMs?: number
  /** Time, timers and dialling; default the real ones. */
  runtime?: Runtime
}

/** How long a joining node keeps trying to reach the member it was pointed at, ms. */
const JOIN_PATIENCE_MS = 10_000

/** How often members down past --member-timeout are looked for, ms. */
const TIMEOUT_CHECK_MS = 500

/** More member addresses than this in one GOSSIP is refused (a garbage or hostile sender). */
export const MAX_GOSSIP_MEMBERS = 1024

/**
 * Membership, peer links and replication (PROTOCOL.md §Cluster). Every member
 * has one outbound link; local writes go to every ready link and a client's
 * write is acknowledged once every ready link has acknowledged it (G1).
 */
export class Cluster implements LinkOwner {
  readonly members = new Map<string, Member>()
  /** This node's advertised HOST:PORT; set once the node listens. */
  advertise: string
  /** --requirepass: links dialled from now on authenticate with it (CONFIG SET requirepass changes it). */
  password: string
  /** How peers are dialled over TLS (the node's certificate and CA); undefined: plain TCP. A reload replaces it. */
  tls: DialTls = undefined
  readonly localAddress: string | undefined
  readonly timing: LinkTiming
  selfState: MemberState = 'up'
  fullSyncsServed = 0
  /** Told the members whenever one is added, removed or its id learned (the data directory keeps them). */
  onMembersChanged: ((members: MemberRecord[]) => void) | null = null
  /** Node ids removed from the cluster for good (PROTOCOL.md §Member removal). */
  retired = new RetiredIds()
  /**
   * How long after a peer's acknowledgement it is on the peer's disk, ms
   * (PROTOCOL.md §Tombstones): 0 in memory or with --fsync always.
   */
  durableAfterMs = 0
  /** Why this node itself was removed from the cluster; null while it is a member. */
  removedReason: string | null = null
  private readonly memberTimeoutMs: number
  private stopTimeoutChecks: Cancel | null = null
  private readonly peerOf = new WeakMap<Session, Member>()
  private readonly driftWarned = new Set<string>()
  /** Addresses found to be this node itself under another name (never dialled again). */
  private readonly selfAliases = new Set<string>()
  /** Sequence numbers, batches, the write barrier, WAIT (PROTOCOL.md §Replication). */
  readonly replication: Replication
  readonly convergence: Convergence
  readonly runtime: Runtime

  constructor (readonly store: Store, readonly log: Logger, settings: ClusterSettings) {
    this.runtime = settings.runtime ?? realRuntime
    this.advertise = settings.advertise
    this.password = settings.password
    this.timing = { ...DEFAULT_TIMING, ...settings.timing }
    this.localAddress = settings.localAddress
    this.memberTimeoutMs = settings.memberTimeoutMs ?? 0
    if (this.memberTimeoutMs > 0) {
      const timeout = new MemberTimeout(this, this.memberTimeoutMs)
      this.stopTimeoutChecks = this.runtime.setInterval(() => timeout.check(), TIMEOUT_CHECK_MS)
    }
    this.replication = new Replication({
      members: this.members,
      runtime: this.runtime,
      log,
      nodeId: () => this.nodeId,
      recorded: seq => this.convergence.recordWrite(seq),
      resendWindowMs: store.tombstoneLog.graceMs / 2
    })
    store.onWrite((key, entry, local, fields) => { if (local) this.replication.replicate(key, entry, fields) })
    this.convergence = new Convergence(this)
    this.convergence.start()
  }

  get nodeId (): string {
    return this.store.nodeId
  }

  /** Joins the cluster of the member at `seed` (PROTOCOL.md §Joining). */
  async join (seed: string): Promise<void> {
    if (this.removedReason !== null) {
      this.log.warn(`not joining ${seed}: this node was removed from its cluster; start it with an empty data directory to join as a new member`)
      return
    }
    this.selfState = 'joining'
    // It takes writes while it joins, and will have peers to tell of its deletes: they leave tombstones from now on.
    this.store.keepTombstones = true
    const { host, port } = parseAddress(seed, '--join')
    const deadline = this.runtime.now() + JOIN_PATIENCE_MS
    let reply: RespValue | undefined
    while (reply === undefined) {
      let client: PeerClient | undefined
      try {
        client = await this.runtime.dial({ host, port, localAddress: this.localAddress, connectTimeoutMs: 2000, now: this.runtime.now, tls: this.tls })
        if (this.password !== '') {
          const auth = await client.call(['AUTH', this.password])
          if (auth instanceof RespError) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: it refused our password (${auth.message})`)
        }
        reply = await client.call(['JOIN', this.advertise, this.nodeId])
      } catch (err) {
        // A certificate our CA does not vouch for will not become one by waiting.
        if (err instanceof KeystoneError || err instanceof TlsVerifyError || this.runtime.now() > deadline) {
          throw err instanceof KeystoneError ? err : new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: ${(err as Error).message}`)
        }
        this.log.warn(`cannot reach ${seed} to join (${(err as Error).message}); retrying`)
        await sleep(this.runtime, 500)
      } finally {
        client?.close()
      }
    }
    if (reply instanceof RespError && reply.message.startsWith('REMOVED')) {
      // Restarted on its data directory after it was removed: it stays out, serving what it has.
      this.leave(`${seed} refused JOIN: ${reply.message}`)
      return
    }
    if (reply instanceof RespError) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: ${reply.message}`)
    if (!Array.isArray(reply)) throw new KeystoneError('KS_ERR_CLUSTER', `cannot join ${seed}: unexpected reply to JOIN`)
    // PROTOCOL.md §Joining: the removals the member knows, before any peer is
    // taken. A removed node that has not heard of its removal may dial this
    // node as soon as it takes peers; what it pushed would bring back what the
    // members collected since (a counter contribution a delete had seen).
    let removed = 0
    for (const item of reply) {
      if (!Array.isArray(item)) continue
      for (const id of item) {
        const text = Buffer.isBuffer(id) ? id.toString('latin1') : ''
        if (NODE_ID.test(text) && text !== this.nodeId && this.retired.add(text, '')) removed++
      }
    }
    if (removed > 0) this.log.info(`${removed} node id(s) removed from the cluster, as ${seed} says: refused from now on`)
    this.selfState = 'syncing'
    for (const item of reply) if (Buffer.isBuffer(item)) this.learn(item.toString('latin1'), true)
    this.log.info(`joined the cluster via ${seed}: ${this.members.size} other member(s); syncing`)
    this.checkSynced() // up at once if there is no one to sync from
  }

  /**
   * JOIN: the node at `addr` (node id `id`, '' if it did not say) asks to join;
   * every member hears of it. Returns the member list (the JOIN reply adds the
   * retired ids). A retired id is refused.
   */
  admit (addr: string, id: string): string[] {
    this.refuseRemoved(id)
    this.retired.reuse(addr)
    const member = this.learn(addr)
    if (member !== undefined && id !== '') this.heard(member, id, '')
    if (member !== undefined && member.link.status !== 'ready') member.joining = true
    this.log.info(`${addr} joins the cluster`)
    this.gossipNow()
    return [this.advertise, ...this.members.keys()]
  }

  /**
   * Adds a member we heard of (and dials it); our own address is ignored, and
   * so is a removed node's address passed on `secondHand` in a member list.
   */
  learn (addr: string, secondHand = false): Member | undefined {
    if (addr === this.advertise || this.selfAliases.has(addr) || this.removedReason !== null) return undefined
    if (secondHand && this.retired.addressRetired(addr)) return undefined
    let member = this.members.get(addr)
    if (member !== undefined) return member
    try {
      parseAddress(addr)
    } catch {
      this.log.warn(`ignoring a bad member address from a peer: ${addr}`)
      return undefined
    }
    member = newMember(addr, new PeerLink(addr, this), this.runtime.now())
    this.members.set(addr, member)
    // Once there is anyone to tell, deletes must leave tombstones (PROTOCOL.md §Versions).
    this.store.keepTombstones = true
    this.log.info(`new member ${addr}`)
    this.membersChanged()
    member.link.start()
    return member
  }

  /** How this node sees a member: `syncing` while our state transfer to it runs. */
  state (member: Member): MemberState {
    if (member.link.status === 'ready') return member.pushing !== null ? 'syncing' : member.reported
    return member.joining ? 'joining' : 'down'
  }

  // ---- LinkOwner ----

  gossipRequest (): Encoded {
    return command(['GOSSIP', this.advertise, this.nodeId, this.selfState, ...this.memberEntries()])
  }

  /** The members as GOSSIP lists them: `address`, or `address=id` once the id is known. */
  private memberEntries (): string[] {
    return [...this.members.values()].map(m => (m.id === '' ? m.addr : `${m.addr}=${m.id}`))
  }

  /** A member entry of a peer's GOSSIP: learned, with the id it gives for the address. */
  private learnEntry (entry: string): void {
    const at = entry.indexOf('=')
    if (at < 0) {
      this.learn(entry, true)
      return
    }
    const addr = entry.slice(0, at)
    const id = entry.slice(at + 1)
    if (!NODE_ID.test(id) || this.retired.has(id) || id === this.nodeId) return
    // A live id at a retired address: a node started there afresh, not the removed one.
    if (this.retired.addressRetired(addr) && !this.members.has(addr)) this.retired.reuse(addr)
    const member = this.learn(addr, true)
    if (member === undefined) return
    if (member.id === '') {
      member.id = id
      this.membersChanged()
    } else if (member.id !== id && member.link.status !== 'ready') {
      member.reportedIds.add(id)
    }
  }

  /** GOSSIP's reply: `[addr, id, state, member-addr...]` of the peer. */
  gossipReply (link: PeerLink, reply: RespValue): void {
    if (!Array.isArray(reply)) return
    const fields = reply.map(v => (Buffer.isBuffer(v) ? v.toString('latin1') : ''))
    const member = this.members.get(link.addr)
    if (fields[1] === this.nodeId) {
      // We dialled ourselves: the address is another name for this node.
      this.log.warn(`${link.addr} is this node (${this.advertise}) under another address; not a peer`)
      this.selfAliases.add(link.addr)
      link.close()
      this.members.delete(link.addr)
      return
    }
    if (member !== undefined && this.retired.has(fields[1] ?? '')) {
      this.expel(member, fields[1] as string)
      return
    }
    if (member !== undefined) this.heard(member, fields[1] ?? '', fields[2] ?? 'up')
    for (const entry of fields.slice(3)) this.learnEntry(entry)
  }

  /** GOSSIP received from a peer: learn it and everyone it knows. */
  gossipFrom (session: Session, from: string, id: string, state: string, entries: string[]): string[] {
    this.refuseRemoved(id)
    // Until its JOIN is answered this node is in no cluster: a peer that remembers
    // its address (a removed node, perhaps) must not make it one (PROTOCOL.md §Joining).
    if (this.selfState === 'joining') throw new CommandError(errorText('joiningPeer'))
    this.retired.reuse(from)
    session.isPeer = true
    if (session.peerId !== id) session.peerSynced = false // a new identity on this session: its relays wait for its sync again
    session.peerId = id
    const member = this.learn(from)
    if (member !== undefined) {
      // It speaks to us, so it is not gone: --member-timeout counts from its silence (PROTOCOL.md §Member removal).
      if (member.link.status !== 'ready') member.downSince = this.runtime.now()
      this.peerOf.set(session, member)
      this.heard(member, id, state)
    }
    for (const entry of entries) this.learnEntry(entry)
    return [this.advertise, this.nodeId, this.selfState, ...this.memberEntries()]
  }

  /**
   * A link is ready. Local writes still waiting for other peers' acknowledgement
   * (and this turn's) are resent to it at once, so their clients need not wait
   * for more; then the link-up sync (PROTOCOL.md §State transfer: our whole state
   * to an empty peer, else an anti-entropy round) carries every older write.
   * Until that is done WAIT does not count it.
   */
  ready (link: PeerLink): void {
    const member = this.members.get(link.addr)
    if (member === undefined) return
    member.joining = false
    member.reached = true
    member.downSince = 0
    // PROTOCOL.md §Member removal: every removal known here, so it reaches every member.
    for (const id of this.retired.keys()) link.request(command(['FORGET', id])).catch(() => {})
    const readySeq = this.seq
    member.resentFrom = this.replication.resendTo(link)
    this.log.info(`peer ${link.addr} is up; syncing`)
    const started = this.runtime.now()
    const push = this.convergence.linkUp(member)
      .then(async (kind: SyncKind) => {
        const reply = await link.request(command(['SYNCED', this.advertise, kind]))
        if (reply instanceof RespError) throw new Error(`the peer refused SYNCED: ${reply.message}`)
        // Other writers' stable timestamps go after SYNCED: the peer takes relays only from a synced session.
        if (member.pushing === push && link.status === 'ready') this.convergence.forwardStable(member)
        if (kind === 'full') {
          link.stats.fullSyncsSent++
          this.fullSyncsServed++
        }
        // Everything up to readySeq went with the sync; later writes by replication.
        // (Not if the link went down and up meanwhile: a newer sync runs, with its own readySeq.)
        if (member.pushing !== push) return
        if (link.status === 'ready' && link.ackedSeq < readySeq) link.ackedSeq = readySeq
        this.convergence.heldUpTo(member, Math.max(readySeq, link.ackedSeq))
        this.log.info(`link-up sync with ${link.addr} done (${kind}) in ${this.runtime.now() - started} ms`)
      })
      .catch(err => {
        // A peer that refuses our state does not hold it: drop the link (it redials and starts over).
        this.log.warn(`state transfer to ${link.addr} stopped: ${(err as Error).message}`)
        link.drop(`state transfer failed: ${(err as Error).message}`)
      })
      .finally(() => { if (member.pushing === push) member.pushing = null })
    member.pushing = push
  }

  down (link: PeerLink, reason: string, report: boolean): void {
    const member = this.members.get(link.addr)
    if (member !== undefined) {
      member.joining = false
      if (member.downSince === 0) member.downSince = this.runtime.now()
    }
    if (report) this.log.warn(`peer ${link.addr} is down: ${reason}`)
    if (member !== undefined) this.convergence.linkDown(member)
    this.acknowledged()
    this.checkSynced()
  }

  /** A link's acknowledgements moved on, or it went down (LinkOwner). */
  acknowledged (): void {
    this.replication.acknowledged()
  }

  /** PROTOCOL.md §Acknowledgement: resolves when every ready peer holds every local write so far; null if they do. */
  barrier (): Promise<void> | null {
    return this.replication.barrier()
  }

  /** WAIT (PROTOCOL.md §WAIT). */
  waitForAcks (session: Session, wanted: number, timeoutMs: number): Promise<number> {
    return this.replication.waitForAcks(session, wanted, timeoutMs)
  }

  /** Sequence number of the latest local write. */
  get seq (): number {
    return this.replication.seq
  }

  /** An entry from a peer (replication or anti-entropy): merged by version, never passed on. */
  applyRemote (key: string, entry: Entry): boolean {
    if (entry.wall > this.store.now() + this.store.clock.maxDriftMs && !this.driftWarned.has(entry.node)) {
      this.driftWarned.add(entry.node)
      this.log.warn(`node ${entry.node} writes with timestamps more than ${this.store.clock.maxDriftMs} ms ahead of our clock; our clock will not follow them (PROTOCOL.md §Versions)`)
    }
    return this.store.merge(key, entry)
  }

  /** The peer on `session` asked for digests or entries: its round is running. */
  asked (session: Session): void {
    const member = this.peerOf.get(session)
    if (member !== undefined) this.convergence.asked(member)
  }

  /** Counts writes received from the peer on `session` (INFO). */
  received (session: Session, writes: number, bytes: number): void {
    const member = this.peerOf.get(session)
    if (member === undefined) return
    member.writesReceived += writes
    member.bytesReceived += bytes
  }

  /**
   * A peer command arrived on `session`: how long the peer was silent before
   * it (since its last peer command, or since the connection opened), in ms,
   * if that is past the failure timeout (the peer has given up on this
   * connection by now); 0 otherwise. A live link carries a heartbeat every heartbeatMs.
   */
  silenceOf (session: Session): number {
    const now = this.runtime.now()
    const last = session.peerHeardAt ?? session.openedAt
    session.peerHeardAt = now
    return last !== undefined && now - last > this.timing.failAfterMs ? now - last : 0
  }

  /** SYNCED from a peer: its whole state has arrived. */
  synced (session: Session, from: string, kind: string): void {
    session.peerSynced = true
    const member = this.peerOf.get(session) ?? this.members.get(from)
    if (member !== undefined) {
      if (kind === 'full') member.fullSyncsReceived++
      else if (kind === 'incremental') member.incrementalSyncsReceived++
      member.sentUsState = true
    }
    this.checkSynced()
  }

  /**
   * A syncing node is up once every member it can reach has sent it its whole
   * state: one member's transfer need not hold what others wrote meanwhile.
   */
  private checkSynced (): void {
    if (this.selfState !== 'syncing') return
    for (const member of this.members.values()) {
      // Wait for members we reach (or are first trying to): a paused or dead one is not waited for.
      if (!member.sentUsState && (member.link.status === 'ready' || member.link.firstAttempt)) return
    }
    this.selfState = 'up'
    this.log.info('every reachable member has sent its state; this node is up')
    this.gossipNow()
  }

  close (): void {
    this.stopTimeoutChecks?.()
    this.stopTimeoutChecks = null
    this.replication.close() // while the links still count
    this.convergence.close()
    for (const member of this.members.values()) member.link.close()
  }

  // ---- member removal (PROTOCOL.md §Member removal) ----

  /** GOSSIP or JOIN from node `id`: refused when it, or this node, was removed. */
  private refuseRemoved (id: string): void {
    if (this.removedReason !== null) throw new CommandError(errorText('left', this.nodeId))
    if (id !== '' && this.retired.has(id)) throw new CommandError(errorText('removed', id))
  }

  /**
   * FORGET `target` (an address or a node id), from a client or passed on by a
   * peer. A peer naming this node tells it that it was removed. Throws a
   * CommandError (its text is the reply) when the target cannot be removed.
   */
  forget (target: string, session: Session): void {
    // A removed node's session is no peer any more (PROTOCOL.md §Member removal).
    if (session.isPeer && session.peerId !== undefined) this.refuseRemoved(session.peerId)
    let id = target
    let addr = ''
    if (isAddress(target)) {
      addr = target
      if (addr === this.advertise) throw new CommandError(errorText('forgetSelf'))
      const member = this.members.get(addr)
      if (member === undefined) {
        if (this.retired.addressRetired(addr)) return // removed already
        throw new CommandError(errorText('noSuchMember', addr))
      }
      if (member.id === '') throw new CommandError(errorText('memberIdUnknown', addr))
      id = member.id
    } else if (!NODE_ID.test(target)) {
      throw new CommandError(errorText('badNodeId'))
    }
    if (id === this.nodeId) {
      if (!session.isPeer) throw new CommandError(errorText('forgetSelf'))
      this.leave(`peer ${session.addr} says this node was removed (FORGET)`)
      return
    }
    const by = session.isPeer ? `passed on by peer ${session.addr}` : `FORGET from client ${session.addr}`
    this.retire(id, addr, by)
  }

  /** Retires node `id` for good, drops it as a member, and tells every ready peer. */
  retire (id: string, addr: string, why: string): void {
    let kept = ''
    for (const m of [...this.members.values()]) {
      if (m.id === id || (m.id === '' && m.addr === addr)) {
        addr = m.addr
        const successor = [...m.reportedIds].find(other => other !== id && !this.retired.has(other))
        if (successor === undefined) {
          this.dropMember(m)
          continue
        }
        // Peers know another node at this address (started there afresh): it
        // stays a member, or this node would count stability without it.
        m.id = successor
        m.reportedIds.delete(successor)
        m.downSince = m.link.status === 'ready' ? 0 : this.runtime.now()
        kept = m.addr
        this.log.info(`member ${m.addr} is node ${successor} now, as peers report`)
        this.membersChanged()
      }
    }
    for (const m of this.members.values()) m.reportedIds.delete(id)
    if (!this.retired.add(id, addr)) return
    if (kept !== '') this.retired.reuse(kept)
    this.log.warn(`member ${addr === '' ? '?' : addr} (node ${id}) removed from the cluster for good (${why}); its id is refused from now on`)
    for (const m of this.members.values()) {
      if (m.link.status === 'ready') m.link.request(command(['FORGET', id])).catch(() => {})
    }
  }

  /**
   * A member whose GOSSIP reply gave a retired id (a removed node, dialled
   * again): it is told, so that it leaves too, and dropped without a redial.
   */
  private expel (member: Member, id: string): void {
    this.log.warn(`member ${member.addr} is node ${id}, removed from the cluster; dropping it`)
    this.members.delete(member.addr)
    this.membersChanged()
    this.checkSynced() // it may be the last member a syncing node waited for
    const link = member.link
    link.request(command(['FORGET', id])).catch(() => {}).finally(() => {
      link.close()
      this.acknowledged()
    })
  }

  /** Drops a member (its link closed): nothing waits for it any more. */
  dropMember (member: Member): void {
    this.members.delete(member.addr)
    member.link.close()
    this.membersChanged()
    this.acknowledged() // its unacknowledged batches no longer wait for it
    this.checkSynced()
  }

  /**
   * This node was removed from the cluster (told by a peer, or refused on
   * rejoining). It forgets every member, keeps its data, and serves alone; its
   * id is retired here too, so a restart on this data directory stays out.
   */
  leave (why: string): void {
    if (this.removedReason !== null) return
    this.removedReason = why
    this.log.warn(`this node (${this.nodeId}) was removed from the cluster: ${why}. It has left the cluster and serves its own data alone; to join again, start it with an empty data directory and --join`)
    this.retired.add(this.nodeId, this.advertise)
    for (const m of this.members.values()) m.link.close()
    this.members.clear()
    this.membersChanged()
    this.acknowledged()
    this.selfState = 'up'
  }

  /**
   * The peer refused our handshake. `REMOVED`: this node was removed, so it
   * leaves. `LEFT <id>`: the peer was, so it is retired here too. Either way
   * the link is not redialled; true when handled so.
   */
  refused (link: PeerLink, message: string): boolean {
    if (message.startsWith('REMOVED')) {
      this.leave(`peer ${link.addr} refused this node: ${message}`)
      return true
    }
    const left = /^LEFT node (\S+)/.exec(message)
    if (left !== null) {
      this.retire(left[1] as string, link.addr, `peer ${link.addr} says it was removed`)
      return true
    }
    return false
  }

  private membersChanged (): void {
    this.onMembersChanged?.([...this.members.values()].map(m => ({ addr: m.addr, id: m.id })))
  }

  private heard (member: Member, id: string, state: string): void {
    if (id !== '') member.reportedIds.clear() // the address speaks for itself
    if (id !== '' && member.id !== id) {
      if (member.id !== '') this.log.info(`member ${member.addr} has a new node id ${id} (restarted)`)
      member.id = id
      // A new node at the address: --member-timeout counts its absence afresh.
      member.downSince = member.link.status === 'ready' ? 0 : this.runtime.now()
      this.membersChanged()
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

function isAddress (text: string): boolean {
  try {
    parseAddress(text)
    return true
  } catch {
    return false
  }
}
