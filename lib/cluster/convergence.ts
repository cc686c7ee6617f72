import { command } from '../protocol/reply.js'
import { RespError } from '../protocol/reply-parser.js'
import type { Timestamp } from '../store/clock.js'
import type { Entry } from '../store/entry.js'
import { EMPTY_ROOT, probeRoot, reconcile } from './anti-entropy.js'
import type { Cluster, Member } from './cluster.js'
import { StableClock } from './stability.js'
import { pushState } from './sync.js'

// PROTOCOL.md §Anti-entropy and §Tombstones: the background work that makes
// nodes converge. A sync when a link comes up (the whole state for an empty
// peer, else an anti-entropy round), a round on every link about once a
// second, the stable timestamp sent to the peers, tombstone collection, and the
// horizon rule: what a member out of touch must drop when it comes back.

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
/** After a restart, horizon collection waits this long once every link was tried and every ready one synced, ms (for STABLE relays). */
const HORIZON_SETTLE_MS = 1000
/** Link-up syncs run in a row while the drop a member owes keeps growing. */
const MAX_HORIZON_TRIES = 3

export class Convergence {
  private readonly stable = new StableClock()
  private timer: NodeJS.Timeout | null = null
  private collecting = false
  /** Told that the horizon rule dropped entries up to `wall` without a record of it (the data directory must forget them too). */
  onDropped: ((wall: number) => void) | null = null
  /** Told what the members out of touch owe (the data directory keeps it across restarts): [address, wall] pairs. */
  onOwedChanged: ((owed: Array<[string, number]>) => void) | null = null
  /** The largest horizon a peer told this node to drop up to (what it dropped already). */
  private droppedBelow = 0
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

  start (): void {
    if (this.timer !== null) return
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
  }

  close (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Local write `seq` was just made, stamped from the store's last tick. */
  recordWrite (seq: number): void {
    const store = this.cluster.store
    this.stable.record(seq, store.lastTickWall, store.lastTickLogical)
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
    let kind: SyncKind = 'none'
    for (let tries = 1; ; tries++) {
      // PROTOCOL.md §Tombstones, the horizon: what it owes goes before anything is compared.
      const owed = member.owedHorizon
      if (owed > 0) await this.tellHorizon(member, owed)
      const k = await this.syncAtLinkUp(member)
      if (kind !== 'full' && k !== 'none') kind = k
      if (member.owedHorizon === owed) {
        if (owed > 0) {
          member.owedHorizon = 0
          this.saveOwed()
        }
        break
      }
      // More tombstones went by the horizon while the sync ran: tell it again, compare again.
      // Still more after a few tries: it stays owed (our GOSSIP replies keep telling it), and
      // a later link-up clears it.
      if (tries === MAX_HORIZON_TRIES) break
    }
    this.syncedSinceStart.add(member.addr)
    return kind
  }

  /** HORIZON to a member that owes it: it drops its entries up to `wall` (and we then send back what is live). */
  private async tellHorizon (member: Member, wall: number): Promise<void> {
    this.cluster.log.info(`telling ${member.addr} to drop its entries up to ${new Date(wall).toISOString()}: deletes older than the tombstone horizon were collected while it was out of touch`)
    const reply = await member.link.request(command(['HORIZON', String(wall)]))
    if (reply instanceof RespError) throw new Error(`the peer refused HORIZON: ${reply.message}`)
  }

  /**
   * HORIZON from a peer (or the same in its GOSSIP reply): it collected
   * tombstones up to `wall` by the horizon while this node was out of touch,
   * so any entry of ours up to there may be a value whose delete is gone. They
   * all go, without a record (the peers send back what is still live); what
   * only this node held and is that old is lost, as PROTOCOL.md says.
   */
  dropBelow (wall: number): void {
    if (wall <= this.droppedBelow) return
    this.droppedBelow = wall
    const dropped = this.cluster.store.dropOlderThan(wall + 1)
    this.cluster.log.warn(`a peer collected deletes by the tombstone horizon while this node was out of touch: dropped ${dropped} entries written at or before ${new Date(wall).toISOString()}; the peers send back what is still live`)
    this.onDropped?.(wall)
  }

  /** The horizon `member` owes (0: none): also in our GOSSIP replies to it, so it hears even when our link to it is cut. */
  owedBy (member: Member | undefined): number {
    return member?.owedHorizon ?? 0
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
      const age = this.cluster.store.tombstoneLog.stableAge(node)
      member.link.request(command(['STABLE', node, String(ts.wall), String(ts.logical), String(age)])).catch(() => {})
    }
  }

  private async syncAtLinkUp (member: Member): Promise<SyncKind> {
    const { store } = this.cluster
    member.rounding = true
    try {
      let theirs = await probeRoot(member)
      member.sync.rounds++
      if (theirs === store.digest.rootHex() || store.digest.rootHex() === EMPTY_ROOT) return 'none'
      // Both ends of a link that comes up start a sync at once, and one round
      // fixes both directions: the end with the larger id gives the other's round
      // a moment to finish, so the differences usually travel once, not twice.
      // (It keeps waiting while that round still asks it for digests or entries.)
      if (theirs !== EMPTY_ROOT && member.id !== '' && this.cluster.nodeId > member.id) {
        const started = Date.now()
        const waiting = (): boolean => {
          const now = Date.now()
          return now - started < DEFER_MS || (now - member.lastAskedAt < 300 && now - started < DEFER_MAX_MS)
        }
        while (waiting() && theirs !== store.digest.rootHex() && member.link.status === 'ready') {
          await new Promise(resolve => setTimeout(resolve, 50))
          theirs = await probeRoot(member)
        }
        if (theirs === store.digest.rootHex()) return 'none'
      }
      if (theirs === EMPTY_ROOT) {
        const sent = await pushState(store, member.link)
        member.sync.fullSyncs++
        member.sync.keysSent += sent.entries
        member.sync.bytesSent += sent.bytes
        return 'full'
      }
      await reconcile(store, member, (key, entry) => this.mergeFetched(member, key, entry))
      member.sync.incrementalSyncs++
      return 'incremental'
    } finally {
      member.rounding = false
      member.nextRoundAt = Date.now() + jitter(ROUND_EVERY_MS)
    }
  }

  /**
   * Merges an entry fetched by a round (ENTRIES). A key we hold nothing for,
   * in a version every member had already acknowledged, can only be missing
   * because its delete was collected since the peer read its reply: taking it
   * would bring the key back. (A node that really lacks it, one restarted
   * empty or past the horizon, gets it from the peer's own rounds, by MREPL.)
   * Nor one up to the horizon the member still owes.
   */
  private mergeFetched (member: Member, key: string, entry: Entry): boolean {
    const store = this.cluster.store
    if (entry.wall <= member.owedHorizon) return false
    if (store.peek(key) === undefined && store.tombstoneLog.isStable(entry)) return false
    return this.cluster.mergeFromPeer(key, entry)
  }

  /**
   * At start-up from a data directory, once the remembered members are known
   * (and before any link is up), with what the directory says of the horizon:
   * `pendingDrop`, a drop a peer told this node of that may not be off the disk
   * yet (done again, before a sync could hand those entries back), and what
   * the members out of touch owe. Horizon collection waits until the links had
   * their chance: the tombstones loaded from the log were mostly collected
   * before the restart, and the STABLE relays say so; by the horizon, they
   * would make every member out of touch owe a drop.
   */
  resume (pendingDrop: number | null, owed: ReadonlyMap<string, number>): void {
    const store = this.cluster.store
    if (store.size + store.tombstones > 0) this.restartedAt = store.clock.peek()
    for (const [addr, wall] of owed) {
      const member = this.cluster.members.get(addr)
      if (member !== undefined && member.owedHorizon < wall) member.owedHorizon = wall
    }
    if (pendingDrop !== null) this.dropBelow(pendingDrop)
    if (this.cluster.members.size > 0) store.horizonCollection = false
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
      this.sendStable()
      this.collect()
      this.scheduleRounds()
    } catch (err) {
      this.cluster.log.error(`convergence tick failed: ${(err as Error).stack ?? String(err)}`)
    }
  }

  /** At start-up: horizon collection resumes once every link was tried and every ready one synced, and STABLE had a moment. */
  private openHorizon (): void {
    const store = this.cluster.store
    if (store.horizonCollection) return
    for (const m of this.cluster.members.values()) {
      if (m.link.firstAttempt || (m.link.status === 'ready' && !this.syncedSinceStart.has(m.addr))) {
        this.settledAt = null
        return
      }
    }
    this.settledAt ??= Date.now()
    if (Date.now() - this.settledAt >= HORIZON_SETTLE_MS) store.horizonCollection = true
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
      const age = cluster.store.tombstoneLog.stableAge(cluster.nodeId)
      m.link.request(command(['STABLE', cluster.nodeId, String(ts.wall), String(ts.logical), String(age)])).catch(() => {
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
    setImmediate(() => {
      this.collecting = false
      this.collect()
    })
  }

  /**
   * Tombstones up to `wall` went by the horizon: a member out of touch (its
   * link not up, or its link-up sync not done) may lack them and still hold
   * older values of their keys. It owes a drop up to `wall` before it syncs
   * with us again (PROTOCOL.md §Tombstones, the horizon).
   */
  private owe (wall: number): void {
    let changed = false
    for (const m of this.cluster.members.values()) {
      if ((m.link.status === 'ready' && m.pushing === null) || m.owedHorizon >= wall) continue
      m.owedHorizon = wall
      changed = true
    }
    if (changed) this.saveOwed()
  }

  private saveOwed (): void {
    const owed: Array<[string, number]> = []
    for (const m of this.cluster.members.values()) if (m.owedHorizon > 0) owed.push([m.addr, m.owedHorizon])
    this.onOwedChanged?.(owed)
  }

  private scheduleRounds (): void {
    const cluster = this.cluster
    if (cluster.selfState !== 'up') return // a syncing node is being sent whole states: comparing now is waste
    const now = Date.now()
    for (const m of cluster.members.values()) {
      if (m.link.status !== 'ready' || m.rounding || m.pushing !== null || m.reported !== 'up' || now < m.nextRoundAt) continue
      m.rounding = true
      this.round(m).catch(err => cluster.log.debug(`anti-entropy round with ${m.addr} stopped: ${(err as Error).message}`))
        .finally(() => {
          m.rounding = false
          m.nextRoundAt = Date.now() + jitter(ROUND_EVERY_MS)
        })
    }
  }

  /** A periodic round: compare roots, and reconcile when they differ. */
  private async round (m: Member): Promise<void> {
    const theirs = await probeRoot(m)
    m.sync.rounds++
    if (theirs === this.cluster.store.digest.rootHex()) return
    const moved = await reconcile(this.cluster.store, m, (key, entry) => this.mergeFetched(m, key, entry))
    if (moved > 0) m.sync.incrementalSyncs++
  }
}

function jitter (ms: number): number {
  return ms * (0.75 + Math.random() / 2)
}
