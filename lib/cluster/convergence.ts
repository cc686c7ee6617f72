import { command, type Encoded } from '../protocol/reply.js'
import { compareTimestamps, type Timestamp } from '../store/clock.js'
import type { Entry } from '../store/entry.js'
import { EMPTY_ROOT, probeRoot, reconcile } from './anti-entropy.js'
import type { Logger } from '../log.js'
import { tombstoneBacklog, type BacklogSource } from './backlog.js'
import type { Member, MemberState } from './member.js'
import { PeerRounds } from './peer-rounds.js'
import { sleep, type Cancel, type Runtime } from './runtime.js'
import { StableClock } from './stability.js'
import { pushState } from './sync.js'

// PROTOCOL.md §Anti-entropy and §Tombstones: the background work that makes
// nodes converge. A sync when a link comes up (the whole state for an empty
// peer, else an anti-entropy round), a round on every link about once a
// second, the stable timestamp sent to the peers, and tombstone collection.

/** How a link-up sync went: the whole state, only what differed, or nothing to do. */
export type SyncKind = 'full' | 'incremental' | 'none'

/** The background tick, ms: STABLE, collection, round scheduling. */
const TICK_MS = 200
/** A round on each ready link about this often, ms (with ±25% jitter, so links do not run in step). */
export const ROUND_EVERY_MS = 1000
/** How long the larger-id end of a new link waits for the other end's round before running its own, ms. */
const DEFER_MS = 300
/** ...and at most this long while that round is still running, ms. */
const DEFER_MAX_MS = 2000
/** Tombstone queue entries looked at per slice of collection (then the event loop gets a turn). */
const COLLECT_BUDGET = 20_000
/** The log says once when the oldest tombstone waiting for collection is older than this, ms. */
const BACKLOG_WARN_MS = 60_000
/**
 * PROTOCOL.md §Tombstones: with `--fsync everysec` (or `no`), an
 * acknowledgement counts towards T once the member's link has stayed up this
 * long after it, ms: long enough for the member's fsync to have put the write
 * on disk, so a power loss there cannot take back a write T says every member
 * holds. (In memory or with `--fsync always` there is nothing to wait for.)
 */
export const DURABLE_AFTER_MS = 2000

/** A writer that is gone: the greatest version of it held here, since when, and when each member's covering round ended. */
interface GoneProbe { since: number, max: Timestamp, covered: Map<Member, number> }

/**
 * What convergence needs of the membership and replication it runs beside
 * (the Cluster is one): it reads their state and merges through them; they
 * call it, never the other way round for anything else.
 */
export interface ConvergenceHost extends BacklogSource {
  readonly runtime: Runtime
  readonly log: Logger
  readonly selfState: MemberState
  /** How long after a peer's acknowledgement it is on the peer's disk, ms. */
  readonly durableAfterMs: number
  /** Merges an entry from a peer. */
  applyRemote: (key: string, entry: Entry) => boolean
}

export class Convergence {
  private readonly stable = new StableClock()
  private stopTicks: Cancel | null = null
  private collecting = false
  private backlogWarned = false
  /** Per member: its rounds, durable acknowledgements, what it was told. */
  private readonly peers = new Map<Member, PeerRounds>()
  /** Per gone writer: what this node held of it when it last looked (PROTOCOL.md §Tombstones, writers that are gone). */
  private readonly gone = new Map<string, GoneProbe>()
  /**
   * A node restarted on its data: no StableClock sample covers its writes from
   * before (sequence numbers start again at 0). `pending` until every member
   * has finished a link-up sync with it since it started and holds every write
   * made since; then a tick of the clock, past every write of its own that
   * anyone still held (the syncs brought them back) and below every later one.
   */
  private restartedAt: Timestamp | 'pending' | null = null
  /** Members that finished a link-up sync with this node since it started, with when (cleared when their link goes down). */
  private readonly syncedSinceStart = new Map<string, number>()

  constructor (private readonly cluster: ConvergenceHost) {}

  private now (): number {
    return this.cluster.runtime.now()
  }

  /**
   * Whether `member` has held since `at` long enough to have made it durable
   * (PROTOCOL.md §Tombstones): durableAfterMs passed with its link up. Proven
   * by the peer itself, by answering a request sent on the same connection
   * that long after `at`, not by this node's clock alone: after a pause or a
   * stall of this node, a timer can see the time passed before the event
   * that the link closed meanwhile (a power loss there) has been read.
   */
  private provenDurable (member: Member, at: number): boolean {
    const durableAfterMs = this.cluster.durableAfterMs
    return durableAfterMs <= 0 || member.link.answeredSentAt - at >= durableAfterMs
  }

  /** What convergence keeps about `member` (INFO and the backlog read it too). */
  peer (member: Member): PeerRounds {
    let p = this.peers.get(member)
    if (p === undefined) this.peers.set(member, p = new PeerRounds(member.addr, member.link))
    return p
  }

  /** What convergence keeps about `member` if anything yet, making no entry (a metrics scrape must change nothing). */
  known (member: Member): PeerRounds | undefined {
    return this.peers.get(member)
  }

  /** The peer on `member`'s link asked us for digests or entries: its round is running. */
  asked (member: Member): void {
    this.peer(member).lastAskedAt = this.now()
  }

  start (): void {
    if (this.stopTicks !== null) return
    this.stopTicks = this.cluster.runtime.setInterval(() => this.tick(), TICK_MS)
  }

  close (): void {
    this.stopTicks?.()
    this.stopTicks = null
  }

  /** Local write `seq` was just made, stamped from the clock's last tick (before any outranking). */
  recordWrite (seq: number): void {
    // Called from the store's write listener, right after the clock's tick: the clock still holds it.
    const tick = this.cluster.store.clock.peek()
    this.stable.record(seq, tick.wall, tick.logical)
  }

  /**
   * The sync when the link to `member` comes up (PROTOCOL.md §State transfer):
   * an empty peer (a newcomer, a node that restarted without data) gets the
   * whole state, which is cheaper than comparing; otherwise one anti-entropy
   * round. Either way the peer then holds everything we held when it started.
   * An empty node sends nothing: the peer's own link-up sync fills it.
   */
  async linkUp (member: Member): Promise<SyncKind> {
    // A peer that went down and came back (perhaps restarted empty) counts again once this sync is done.
    this.syncedSinceStart.delete(member.addr)
    this.peer(member).stableSent = '' // it may have restarted: tell it again
    const kind = await this.syncAtLinkUp(member)
    this.syncedSinceStart.set(member.addr, this.now())
    return kind
  }

  /**
   * `member`'s link went down: it may have lost with its power what it had not
   * fsynced yet, so nothing it acknowledged, or was covered by, in the last
   * durableAfterMs counts (PROTOCOL.md §Tombstones). Its link-up sync counts again.
   */
  linkDown (member: Member): void {
    const peer = this.peers.get(member)
    this.syncedSinceStart.delete(member.addr)
    if (peer === undefined) return
    peer.ackSamples.length = 0
    if (!this.provenDurable(member, peer.coveredAt)) {
      peer.coveredFrom = 0
      peer.coveredAt = 0
      for (const probe of this.gone.values()) probe.covered.delete(member)
    }
  }

  /** `member` holds every local write up to `seq` (its link-up sync is done): counted once durable there. */
  heldUpTo (member: Member, seq: number): void {
    this.peer(member).ackSamples.push({ at: this.now(), seq })
  }

  /**
   * Sends a peer whose link came up the stable timestamps of the other writers
   * known here. A writer tells its own, and one that is gone (a node restarted
   * empty, under a new id) never will again: a node restarted on its data, which
   * loaded tombstones every member had collected, or a newcomer handed them by a
   * peer that had not collected them yet, would otherwise keep them. (A stable
   * timestamp is a fact about the whole cluster, whoever passes it on.) Sent
   * after SYNCED: the peer takes a relayed timestamp only on a session whose
   * link-up sync is done.
   */
  forwardStable (member: Member): void {
    const self = this.cluster.nodeId
    for (const [node, ts] of this.cluster.store.tombstoneLog.stableTimestamps()) {
      if (node === self || node === member.id) continue
      member.link.request(this.stableRequest(node, ts)).catch(() => {})
    }
  }

  /** `STABLE node wall logical age`: the age is how long ago that T was first heard (or computed, for our own). */
  private stableRequest (node: string, ts: Timestamp): Encoded {
    const age = this.cluster.store.tombstoneLog.stableAge(node)
    return command(['STABLE', node, String(ts.wall), String(ts.logical), String(age)])
  }

  /** Runs `run` as the round on `member`'s link; the next periodic one comes about a second after it. */
  private async inRound<T> (member: Member, run: () => Promise<T>): Promise<T> {
    const peer = this.peer(member)
    peer.rounding = true
    try {
      return await run()
    } finally {
      peer.rounding = false
      peer.nextRoundAt = this.now() + ROUND_EVERY_MS * (0.75 + this.cluster.runtime.random() / 2)
    }
  }

  private async syncAtLinkUp (member: Member): Promise<SyncKind> {
    return await this.inRound(member, async () => {
      const started = this.now()
      const kind = await this.linkUpRound(member)
      this.covered(member, started) // it threw if the round did not finish
      return kind
    })
  }

  private async linkUpRound (member: Member): Promise<SyncKind> {
    const { store } = this.cluster
    const peer = this.peer(member)
    let theirs = await probeRoot(peer)
    peer.sync.rounds++
    if (theirs === store.digest.rootHex()) return 'none'
    if (store.digest.rootHex() === EMPTY_ROOT) return 'none' // nothing to send: the peer's own sync fills us
    // Both ends of a link that comes up start a sync at once, and one round
    // fixes both directions: the end with the larger id gives the other's round
    // a moment to finish, so the differences usually travel once, not twice.
    // (It keeps waiting while that round still asks it for digests or entries.)
    if (theirs !== EMPTY_ROOT && member.id !== '' && this.cluster.nodeId > member.id) {
      const started = this.now()
      const waiting = (): boolean => {
        const now = this.now()
        return now - started < DEFER_MS || (now - peer.lastAskedAt < 300 && now - started < DEFER_MAX_MS)
      }
      while (waiting() && theirs !== store.digest.rootHex() && member.link.status === 'ready') {
        await sleep(this.cluster.runtime, 50)
        theirs = await probeRoot(peer)
      }
      if (theirs === store.digest.rootHex()) return 'none'
    }
    if (theirs === EMPTY_ROOT) {
      const sent = await pushState(store, member.link, this.cluster.runtime)
      peer.sync.fullSyncs++
      peer.sync.keysSent += sent.entries
      peer.sync.bytesSent += sent.bytes
      return 'full'
    }
    await reconcile(store, peer, (key, entry) => this.mergeFetched(key, entry))
    peer.sync.incrementalSyncs++
    return 'incremental'
  }

  /**
   * A round (or link-up sync) of ours with `member`, started at `started`,
   * finished every differing leaf: from then on the member holds everything
   * this node held when it started (or something newer).
   */
  private covered (member: Member, started: number): void {
    const peer = this.peer(member)
    if (started > peer.coveredFrom) {
      peer.coveredFrom = started
      peer.coveredAt = this.now()
    }
  }

  /**
   * Merges an entry fetched by a round (ENTRIES). A key we hold nothing for,
   * in a version every member had already acknowledged, can only be missing
   * because its delete was collected since the peer read its reply: taking it
   * would bring the key back. (A node that really lacks it, one restarted
   * empty, gets it from the peer's own rounds, by MREPL.)
   */
  private mergeFetched (key: string, entry: Entry): boolean {
    const store = this.cluster.store
    if (store.peek(key) === undefined && store.tombstoneLog.isStable(entry)) return false
    return this.cluster.applyRemote(key, entry)
  }

  /** At start-up from a data directory, once loaded (PROTOCOL.md §Tombstones, restarts). */
  resume (): void {
    this.restartedAt = 'pending'
  }

  /**
   * STABLE from a peer: `node`'s writes up to `ts` are held by every member.
   * Taken when `node` is the sender's own id (from its GOSSIP on this session),
   * or, relayed for another writer, once the sender has finished its link-up
   * sync on this session (SYNCED). Anything else is ignored: a stray or
   * misdirected STABLE would let tombstones go that some member still needs.
   * Returns whether it was taken.
   */
  stableFrom (session: { peerId?: string, peerSynced?: boolean }, node: string, ts: Timestamp, agoMs = 0): boolean {
    if (node === this.cluster.nodeId) return false // our own T is ours to compute
    if (session.peerId === undefined) return false
    if (node !== session.peerId && session.peerSynced !== true) return false
    if (ts.wall > this.cluster.store.now() + this.cluster.store.clock.maxDriftMs) return false // garbage, or a wild clock: ignore
    if (this.cluster.store.setStable(node, ts, agoMs)) this.collect()
    return true
  }

  private tick (): void {
    try {
      this.sendStable()
      this.settleGoneWriters()
      this.collect()
      this.scheduleRounds()
      this.warnBacklog()
    } catch (err) {
      this.cluster.log.error(`convergence tick failed: ${(err as Error).stack ?? String(err)}`)
    }
  }

  /** Says once, when the backlog's oldest tombstone passes a minute, who holds collection back (PROTOCOL.md §Tombstones). */
  private warnBacklog (): void {
    const b = tombstoneBacklog(this.cluster, m => this.peer(m).heldSeq)
    if (b.oldestAgeMs < BACKLOG_WARN_MS) {
      this.backlogWarned = false
      return
    }
    if (this.backlogWarned) return
    this.backlogWarned = true
    this.cluster.log.warn(`${b.tombstones} tombstone(s) wait for collection, the oldest for ${Math.round(b.oldestAgeMs / 1000)} s, held back by ${b.heldBackBy}; remove a member that is gone for good with FORGET`)
  }

  /**
   * Every local write up to which each member holds durably (PROTOCOL.md
   * §Tombstones): a ready, synced link's acknowledgements, once the link has
   * stayed up DURABLE_AFTER_MS since. A link that goes down drops the samples
   * not yet old enough: the member may have lost them with its power.
   */
  private heldSeq (m: Member, now: number): number {
    const peer = this.peer(m)
    const samples = peer.ackSamples
    if (m.link.status !== 'ready' || m.pushing !== null) {
      samples.length = 0
      return peer.heldSeq
    }
    // A link's ackedSeq is a high-water mark: batches resent at link-up are
    // acknowledged before the link-up sync has carried the older writes. Only
    // a ready, synced link's is a prefix the peer holds in full.
    const last = samples[samples.length - 1]
    if (m.link.ackedSeq > peer.heldSeq && (last === undefined || last.seq < m.link.ackedSeq)) samples.push({ at: now, seq: m.link.ackedSeq })
    while (samples.length > 0 && this.provenDurable(m, (samples[0] as { at: number }).at)) {
      const s = samples.shift() as { seq: number }
      if (s.seq > peer.heldSeq) peer.heldSeq = s.seq
    }
    return peer.heldSeq
  }

  /** Computes T (every member holds our writes up to it) and tells every ready peer when it moved. */
  private sendStable (): void {
    const cluster = this.cluster
    // A joining node has no member yet, but will: its deletes wait for them.
    if (cluster.selfState === 'joining') return
    const now = this.now()
    // A member dropped (removed, or a self alias) takes what we kept about it along.
    for (const m of this.peers.keys()) {
      if (cluster.members.get(m.addr) === m) continue
      this.peers.delete(m)
      for (const probe of this.gone.values()) probe.covered.delete(m)
    }
    let acked = cluster.seq
    for (const m of cluster.members.values()) {
      const held = this.heldSeq(m, now)
      if (held < acked) acked = held
    }
    let ts = this.stable.stableAt(acked)
    const durablySynced = (m: Member): boolean => {
      const at = this.syncedSinceStart.get(m.addr)
      return at !== undefined && this.provenDurable(m, at)
    }
    if (this.restartedAt === 'pending' && acked >= cluster.seq && [...cluster.members.values()].every(durablySynced)) {
      this.restartedAt = cluster.store.clock.tick()
    }
    if (this.restartedAt !== null && this.restartedAt !== 'pending' && (ts === null || compareTimestamps(this.restartedAt, ts) > 0)) ts = this.restartedAt
    if (ts === null) return
    cluster.store.setStable(cluster.nodeId, ts)
    const text = `${ts.wall}.${ts.logical}`
    for (const m of cluster.members.values()) {
      const peer = this.peer(m)
      if (m.link.status !== 'ready' || peer.stableSent === text) continue
      peer.stableSent = text
      m.link.request(this.stableRequest(cluster.nodeId, ts)).catch(() => {
        peer.stableSent = '' // resent once the link is back
      })
    }
  }

  /**
   * PROTOCOL.md §Tombstones, writers that are gone: a writer no member has
   * (removed, or replaced at its address by a node with a new id) never sends
   * STABLE again. This node works out its own T for it: the greatest version
   * of it held here when it looked, once every member has finished a round
   * with this node started after that (each then holds it too, or newer) and
   * had the time to make it durable. Never passed on: it says nothing of
   * versions this node does not hold.
   */
  private settleGoneWriters (): void {
    const cluster = this.cluster
    if (cluster.selfState === 'joining') return
    const now = this.now()
    const present = new Set<string>([cluster.nodeId])
    for (const m of cluster.members.values()) {
      if (m.id === '') return // a member never reached may be any writer
      present.add(m.id)
    }
    const queued = new Set<string>()
    for (const [writer, max] of cluster.store.tombstoneLog.writers()) {
      queued.add(writer)
      if (present.has(writer)) {
        this.gone.delete(writer)
        continue
      }
      const probe = this.gone.get(writer)
      if (probe === undefined || compareTimestamps(max, probe.max) > 0) {
        // Something new of it arrived: look again from now.
        this.gone.set(writer, { since: now, max, covered: new Map() })
        continue
      }
      let everyone = true
      for (const m of cluster.members.values()) {
        const peer = this.peer(m)
        if (peer.coveredFrom > probe.since && !probe.covered.has(m)) probe.covered.set(m, peer.coveredAt)
        const at = probe.covered.get(m)
        if (at === undefined || !this.provenDurable(m, at)) everyone = false
      }
      if (everyone && cluster.store.setStable(writer, probe.max, 0, true)) this.collect()
    }
    // A writer whose tombstones are all gone needs no probe (it starts afresh if more arrive).
    for (const writer of this.gone.keys()) if (!queued.has(writer)) this.gone.delete(writer)
  }

  /** Collects what tombstones may go, in slices, so a big backlog never blocks the event loop. */
  private collect (): void {
    if (this.collecting) return
    const store = this.cluster.store
    const looked = store.collectTombstones(COLLECT_BUDGET)
    if (looked < COLLECT_BUDGET) return
    this.collecting = true
    this.cluster.runtime.setImmediate(() => {
      this.collecting = false
      try {
        this.collect()
      } catch (err) {
        this.cluster.log.error(`tombstone collection failed: ${(err as Error).stack ?? String(err)}`)
      }
    })
  }

  private scheduleRounds (): void {
    const cluster = this.cluster
    if (cluster.selfState !== 'up') return // a syncing node is being sent whole states: comparing now is waste
    const now = this.now()
    for (const m of cluster.members.values()) {
      const peer = this.peer(m)
      if (m.link.status !== 'ready' || peer.rounding || m.pushing !== null || m.reported !== 'up' || now < peer.nextRoundAt) continue
      this.inRound(m, () => this.round(m)).catch(err => cluster.log.debug(`anti-entropy round with ${m.addr} stopped: ${(err as Error).message}`))
    }
  }

  /** A periodic round: compare roots, and reconcile when they differ. */
  private async round (m: Member): Promise<void> {
    const started = this.now()
    const peer = this.peer(m)
    const theirs = await probeRoot(peer)
    peer.sync.rounds++
    if (theirs !== this.cluster.store.digest.rootHex()) {
      const moved = await reconcile(this.cluster.store, peer, (key, entry) => this.mergeFetched(key, entry))
      if (moved > 0) peer.sync.incrementalSyncs++
    }
    this.covered(m, started)
  }
}
