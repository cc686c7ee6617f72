import { command, type Encoded } from '../protocol/reply.js'
import type { Timestamp } from '../store/clock.js'
import type { Entry } from '../store/entry.js'
import { EMPTY_ROOT, probeRoot, reconcile } from './anti-entropy.js'
import type { Cluster, Member } from './cluster.js'
import { tombstoneBacklog } from './backlog.js'
import { StableClock } from './stability.js'
import { sleep, type Cancel } from './runtime.js'
import { pushState } from './sync.js'

// PROTOCOL.md §Anti-entropy and §Tombstones: the background work that makes
// nodes converge. A sync when a link comes up (the whole state for an empty
// peer, else an anti-entropy round), a round on every link about once a
// second, the stable timestamp sent to the peers, tombstone collection, and the
// horizon rule: what a member out of touch must forget when it comes back.

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
/** At start, horizon collection waits this long once this node is up and every link was tried and synced, ms (for STABLE relays). */
const HORIZON_SETTLE_MS = 1000
/** The log says once when the oldest tombstone waiting for collection is older than this, ms. */
const BACKLOG_WARN_MS = 60_000

export class Convergence {
  private readonly stable = new StableClock()
  private stopTicks: Cancel | null = null
  private collecting = false
  private backlogWarned = false
  /** Told what the members out of touch owe (the data directory keeps it across restarts): [address, wall] pairs. */
  onOwedChanged: ((owed: Array<[string, number]>) => void) | null = null
  /**
   * PROTOCOL.md §Tombstones, the horizon. A debt epoch runs from the first
   * member that owes until every debt is paid, plus a linger. Meanwhile this
   * node is the authority up to the largest wall owed, towards every peer (a
   * member that owes may have passed its values to others): it takes no entry
   * up to there for a key it holds nothing for, and sends a peer holding such
   * a value a tombstone for it.
   */
  private epochWall = 0
  /** When the epoch may end once nothing is owed, ms since the epoch; 0 while something is. */
  private epochEndsAt = 0
  /** When the last debt was paid: the epoch ends only once every member had a round since. */
  private paidAt = 0
  /** Start-up: when every link was first tried and every ready one synced (null: not yet). */
  private settledAt: number | null = null
  /**
   * A node restarted on its data: the clock once loaded, at or past every write
   * of its own from before. No StableClock sample covers those (sequence numbers
   * start again at 0), so they count as held by every member once every member
   * has finished a link-up sync with this node since it started.
   */
  private restartedAt: Timestamp | null = null
  private readonly syncedSinceStart = new Set<string>()

  constructor (private readonly cluster: Cluster) {}

  private now (): number {
    return this.cluster.runtime.now()
  }

  start (): void {
    if (this.stopTicks !== null) return
    // Nothing goes by the horizon before this node is filled and synced (openHorizon):
    // a debt run up mid-fill would make it the authority over values it just lacks yet.
    this.cluster.store.horizonCollection = false
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
    const kind = await this.syncAtLinkUp(member)
    this.syncedSinceStart.add(member.addr)
    return kind
  }

  /**
   * The wall up to which this node is the authority on what is gone
   * (PROTOCOL.md §Tombstones, the horizon); 0: none. A field: it is read for
   * every replicated entry.
   */
  get authority (): number {
    return this.epochWall
  }

  /**
   * Sends a peer whose link came up the stable timestamps of the other writers
   * known here. A writer tells its own, and one that is gone (a node restarted
   * empty, under a new id) never will again: a node restarted on its data, which
   * loaded tombstones every member had collected, or a newcomer handed them by a
   * peer that had not collected them yet, would otherwise keep them, and a
   * digest that differs, until the horizon. (A stable timestamp is a fact about
   * the whole cluster, whoever passes it on.) Sent after SYNCED: the peer takes
   * a relayed timestamp only on a session whose link-up sync is done.
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
    member.rounding = true
    try {
      return await run()
    } finally {
      member.rounding = false
      member.nextRoundAt = this.now() + ROUND_EVERY_MS * (0.75 + this.cluster.runtime.random() / 2)
    }
  }

  private async syncAtLinkUp (member: Member): Promise<SyncKind> {
    return await this.inRound(member, async () => {
      const started = this.now()
      const kind = await this.linkUpRound(member)
      this.caughtUp(member, started) // it threw if the round did not finish
      return kind
    })
  }

  private async linkUpRound (member: Member): Promise<SyncKind> {
    const { store } = this.cluster
    let theirs = await probeRoot(member)
    member.sync.rounds++
    if (theirs === store.digest.rootHex()) return 'none'
    // An empty node has nothing to send, unless the peer owes: then it holds
    // values this node deleted and collected, which a round deletes there.
    if (store.digest.rootHex() === EMPTY_ROOT && member.owedHorizon === 0) return 'none'
    // Both ends of a link that comes up start a sync at once, and one round
    // fixes both directions: the end with the larger id gives the other's round
    // a moment to finish, so the differences usually travel once, not twice.
    // (It keeps waiting while that round still asks it for digests or entries.)
    if (theirs !== EMPTY_ROOT && member.id !== '' && this.cluster.nodeId > member.id) {
      const started = this.now()
      const waiting = (): boolean => {
        const now = this.now()
        return now - started < DEFER_MS || (now - member.lastAskedAt < 300 && now - started < DEFER_MAX_MS)
      }
      while (waiting() && theirs !== store.digest.rootHex() && member.link.status === 'ready') {
        await sleep(this.cluster.runtime, 50)
        theirs = await probeRoot(member)
      }
      if (theirs === store.digest.rootHex()) return 'none'
    }
    if (theirs === EMPTY_ROOT) {
      const sent = await pushState(store, member.link, this.cluster.runtime)
      member.sync.fullSyncs++
      member.sync.keysSent += sent.entries
      member.sync.bytesSent += sent.bytes
      return 'full'
    }
    await this.reconcileWith(member)
    member.sync.incrementalSyncs++
    return 'incremental'
  }

  /** An anti-entropy exchange with `member`, this node's horizon authority applied. */
  private reconcileWith (member: Member): Promise<number> {
    // The wall is read at each use: a tombstone may go by the horizon while the round runs.
    const authority = { self: this.cluster.nodeId, wall: () => this.epochWall }
    return reconcile(this.cluster.store, member, (key, entry) => this.mergeFetched(key, entry), authority)
  }

  /**
   * A round or link-up sync this node ran with `member`, started at `started`,
   * is done: the member now holds nothing up to its debt that this node lacks
   * (each such entry got a tombstone), so what it owed from before is paid.
   */
  private caughtUp (member: Member, started: number): void {
    if (started > member.coveredFrom) member.coveredFrom = started
    if (member.owedHorizon === 0 || started <= member.owedAt) return
    member.owedHorizon = 0
    this.recomputeOwed()
    this.saveOwed()
  }

  private recomputeOwed (): void {
    let owing = false
    for (const m of this.cluster.members.values()) {
      if (m.owedHorizon === 0) continue
      owing = true
      if (m.owedHorizon > this.epochWall) this.epochWall = m.owedHorizon
    }
    // All paid: a value passed between peers before they got their tombstones may
    // still be in flight or held; the epoch lingers a grace (at least three
    // rounds with everyone) to refuse it and send tombstones for it.
    if (owing) {
      this.epochEndsAt = 0
    } else if (this.epochWall > 0 && this.epochEndsAt === 0) {
      this.paidAt = this.now()
      this.epochEndsAt = this.paidAt + Math.max(this.cluster.store.tombstoneLog.graceMs, ROUND_EVERY_MS * 3)
    }
  }

  /**
   * Ends a debt epoch whose linger is over, once every member had a full round
   * of ours since the last debt was paid: any of them may have been handed a
   * value meanwhile by one that owed. A member out of touch then owes the
   * epoch's wall itself, and the epoch goes on.
   */
  private endEpoch (): void {
    if (this.epochEndsAt === 0 || this.now() < this.epochEndsAt) return
    let owing = false
    let waiting = false
    for (const m of this.cluster.members.values()) {
      if (m.link.status !== 'ready') {
        m.owedHorizon = this.epochWall
        m.owedAt = this.now()
        owing = true
      } else if (m.coveredFrom <= this.paidAt) {
        waiting = true
      }
    }
    if (owing) {
      this.recomputeOwed()
      this.saveOwed()
      return
    }
    if (waiting) return
    this.epochWall = 0
    this.epochEndsAt = 0
  }

  /**
   * Merges an entry fetched by a round (ENTRIES). A key we hold nothing for,
   * in a version every member had already acknowledged, can only be missing
   * because its delete was collected since the peer read its reply: taking it
   * would bring the key back. (A node that really lacks it, one restarted
   * empty, gets it from the peer's own rounds, by MREPL.) Otherwise as a
   * replicated write (the horizon authority included: the peer is sent a
   * tombstone for such a value instead).
   */
  private mergeFetched (key: string, entry: Entry): boolean {
    const store = this.cluster.store
    if (store.peek(key) === undefined && store.tombstoneLog.isStable(entry)) return false
    return this.cluster.applyRemote(key, entry)
  }

  /**
   * At start-up from a data directory, once the remembered members are known
   * (and before any link is up), with what the members out of touch owe, as
   * the directory says. (Horizon collection waits for the links, openHorizon:
   * the tombstones loaded from the log were mostly collected before the
   * restart, and the STABLE relays say so.)
   */
  resume (owed: ReadonlyMap<string, number>): void {
    const store = this.cluster.store
    if (store.size + store.tombstones > 0) this.restartedAt = store.clock.peek()
    const now = this.now()
    for (const [addr, wall] of owed) {
      const member = this.cluster.members.get(addr)
      if (member === undefined || member.owedHorizon >= wall) continue
      member.owedHorizon = wall
      member.owedAt = now
    }
    this.recomputeOwed()
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
      this.openHorizon()
      this.endEpoch()
      this.sendStable()
      this.collect()
      this.scheduleRounds()
      this.warnBacklog()
    } catch (err) {
      this.cluster.log.error(`convergence tick failed: ${(err as Error).stack ?? String(err)}`)
    }
  }

  /**
   * At start-up (and on joining): horizon collection begins once this node is
   * up (every member it reaches has sent it its state), every link was tried
   * and every ready one synced, and STABLE had a moment.
   */
  private openHorizon (): void {
    const store = this.cluster.store
    if (store.horizonCollection) return
    if (this.cluster.selfState !== 'up') {
      this.settledAt = null
      return
    }
    for (const m of this.cluster.members.values()) {
      // Every member reached must have sent its state (SYNCED): one whose transfer was cut
      // short holds values this node lacks only because they have not arrived yet.
      if (m.link.firstAttempt || (m.link.status === 'ready' && !this.syncedSinceStart.has(m.addr)) || (m.reached && !m.sentUsState)) {
        this.settledAt = null
        return
      }
    }
    this.settledAt ??= this.now()
    if (this.now() - this.settledAt >= HORIZON_SETTLE_MS) store.horizonCollection = true
  }

  /** Says once, when the backlog's oldest tombstone passes a minute, who holds collection back (PROTOCOL.md §Tombstones). */
  private warnBacklog (): void {
    const b = tombstoneBacklog(this.cluster)
    if (b.oldestAgeMs < BACKLOG_WARN_MS) {
      this.backlogWarned = false
      return
    }
    if (this.backlogWarned) return
    this.backlogWarned = true
    this.cluster.log.warn(`${b.tombstones} tombstone(s) wait for collection, the oldest for ${Math.round(b.oldestAgeMs / 1000)} s, held back by ${b.heldBackBy}; remove a member that is gone for good with FORGET`)
  }

  /** Computes T (every member holds our writes up to it) and tells every ready peer when it moved. */
  private sendStable (): void {
    const cluster = this.cluster
    if (cluster.members.size === 0) return
    let acked = cluster.seq
    for (const m of cluster.members.values()) {
      // A link's ackedSeq is a high-water mark: batches resent at link-up are
      // acknowledged before the link-up sync has carried the older writes. Only
      // a ready, synced link's is a prefix the peer holds in full; otherwise the
      // last such value stands.
      if (m.link.status === 'ready' && m.pushing === null && m.link.ackedSeq > m.heldSeq) m.heldSeq = m.link.ackedSeq
      if (m.heldSeq < acked) acked = m.heldSeq
    }
    let ts = this.stable.stableAt(acked)
    if (ts === null && this.restartedAt !== null && [...cluster.members.keys()].every(a => this.syncedSinceStart.has(a))) ts = this.restartedAt
    if (ts === null) return
    cluster.store.setStable(cluster.nodeId, ts)
    const text = `${ts.wall}.${ts.logical}`
    for (const m of cluster.members.values()) {
      if (m.link.status !== 'ready' || m.stableSent === text) continue
      m.stableSent = text
      m.link.request(this.stableRequest(cluster.nodeId, ts)).catch(() => {
        m.stableSent = '' // resent once the link is back
      })
    }
  }

  /** Collects what tombstones may go, in slices, so a big backlog never blocks the event loop. */
  private collect (): void {
    if (this.collecting) return
    const store = this.cluster.store
    const before = store.horizonCollectedWall
    const looked = store.collectTombstones(COLLECT_BUDGET)
    if (store.horizonCollectedWall > before) this.owe(store.horizonCollectedWall)
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

  /**
   * Tombstones up to `wall` went by the horizon: a member out of touch (its
   * link not up, or its link-up sync not done) may lack them and still hold
   * older values of their keys. It owes: until a round of ours with it has
   * sent it a tombstone for every such entry (PROTOCOL.md §Tombstones, the horizon).
   */
  private owe (wall: number): void {
    let changed = false
    const now = this.now()
    for (const m of this.cluster.members.values()) {
      if (m.link.status === 'ready' && this.syncedSinceStart.has(m.addr)) continue
      if (m.owedHorizon < wall) {
        m.owedHorizon = wall
        changed = true
      }
      m.owedAt = now
    }
    if (!changed) return
    this.recomputeOwed()
    this.saveOwed()
  }

  private saveOwed (): void {
    const owed: Array<[string, number]> = []
    for (const m of this.cluster.members.values()) if (m.owedHorizon > 0) owed.push([m.addr, m.owedHorizon])
    this.onOwedChanged?.(owed)
  }

  private scheduleRounds (): void {
    const cluster = this.cluster
    if (cluster.selfState !== 'up') return // a syncing node is being sent whole states: comparing now is waste
    const now = this.now()
    for (const m of cluster.members.values()) {
      if (m.link.status !== 'ready' || m.rounding || m.pushing !== null || m.reported !== 'up' || now < m.nextRoundAt) continue
      this.inRound(m, () => this.round(m)).catch(err => cluster.log.debug(`anti-entropy round with ${m.addr} stopped: ${(err as Error).message}`))
    }
  }

  /** A periodic round: compare roots, and reconcile when they differ. */
  private async round (m: Member): Promise<void> {
    const started = this.now()
    const theirs = await probeRoot(m)
    m.sync.rounds++
    if (theirs !== this.cluster.store.digest.rootHex()) {
      const moved = await this.reconcileWith(m)
      if (moved > 0) m.sync.incrementalSyncs++
    }
    this.caughtUp(m, started)
  }
}
