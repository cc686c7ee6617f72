import { compareTimestamps, type Timestamp } from './clock.js'
import type { Version } from './entry.js'

// PROTOCOL.md §Tombstones. Every tombstone the store takes is queued under the
// node that wrote it, in a min-heap by version. Whether a tombstone may go is
// monotone in its version (at or below the writer's stable timestamp, heard at
// least the grace ago), so collection pops heap minima and stops at the first one
// to keep: everything behind it is newer, hence kept too. It never walks the
// store. A tombstone far ahead (a skewed clock) sits at the bottom and holds
// nothing up, which an arrival-order queue would. A minimum that no longer is
// the key's entry (overwritten since) is simply dropped.

/** What the store says of a queued tombstone: gone already, collect it now, or not yet. */
export type TombstoneVerdict = 'stale' | 'collected' | 'keep'

/** One writer's queued tombstones: a binary min-heap on (wall, logical), in parallel arrays. */
class OriginQueue {
  keys: string[] = []
  /** The hash field whose removal this is (PROTOCOL.md §Hashes); undefined for a key's tombstone. */
  fields: Array<string | undefined> = []
  walls: number[] = []
  logicals: number[] = []
  /** The greatest version ever queued here (an upper bound of those still held). */
  max: Timestamp = { wall: 0, logical: 0 }

  get length (): number {
    return this.keys.length
  }

  private less (i: number, j: number): boolean {
    const wi = this.walls[i] as number
    const wj = this.walls[j] as number
    return wi < wj || (wi === wj && (this.logicals[i] as number) < (this.logicals[j] as number))
  }

  private swap (i: number, j: number): void {
    const k = this.keys[i] as string; this.keys[i] = this.keys[j] as string; this.keys[j] = k
    const f = this.fields[i]; this.fields[i] = this.fields[j]; this.fields[j] = f
    const w = this.walls[i] as number; this.walls[i] = this.walls[j] as number; this.walls[j] = w
    const l = this.logicals[i] as number; this.logicals[i] = this.logicals[j] as number; this.logicals[j] = l
  }

  push (key: string, wall: number, logical: number, field: string | undefined): void {
    if (wall > this.max.wall || (wall === this.max.wall && logical > this.max.logical)) this.max = { wall, logical }
    this.keys.push(key)
    this.fields.push(field)
    this.walls.push(wall)
    this.logicals.push(logical)
    let i = this.keys.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  /** Removes the minimum (index 0). */
  pop (): void {
    const last = this.keys.length - 1
    if (last > 0) this.swap(0, last)
    this.keys.pop()
    this.fields.pop()
    this.walls.pop()
    this.logicals.pop()
    const n = this.keys.length
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && this.less(l, m)) m = l
      if (r < n && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
  }
}

/**
 * How long a tombstone must have been collectable (at or below its writer's
 * stable timestamp) before it goes, ms: longer than failure detection plus
 * message transit, so an MREPL batch or state-transfer page still in flight,
 * which may carry an older value of the key, lands while the tombstone is
 * still here to beat it (PROTOCOL.md §Tombstones).
 */
export const DEFAULT_TOMBSTONE_GRACE_MS = 10_000

export class TombstoneLog {
  private readonly queues = new Map<string, OriginQueue>()
  /** Per writer: stable timestamps heard, with when, not yet older than the grace. */
  private readonly pending = new Map<string, Array<{ ts: Timestamp, at: number }>>()
  /** Per writer: the largest stable timestamp heard at least the grace ago (what collection uses). */
  private readonly collectable = new Map<string, Timestamp>()

  /** `now`: physical time, ms; the Store passes its clock's, so an injected clock moves the grace too. */
  constructor (readonly graceMs = DEFAULT_TOMBSTONE_GRACE_MS, private readonly now: () => number = Date.now) {}
  /**
   * Per writer node: the timestamp up to which every member holds every write
   * of that node (it tells us with STABLE). A tombstone of that node at or below
   * it can go: no member holds an older value it would have to beat.
   */
  private readonly stable = new Map<string, Timestamp>()
  /** Per writer: when its stable timestamp was first heard (here, or by the peer that relayed it). */
  private readonly stableAt = new Map<string, number>()
  /**
   * Writers whose stable timestamp this node set by itself, for a writer that
   * is gone (PROTOCOL.md §Tombstones): true of what this node holds, so never
   * passed on to a peer.
   */
  private readonly local = new Set<string>()

  /** Queues a tombstone of `key` written at `v`; with `field`, the removal of that field of a hash (stamp `v`). */
  add (key: string, v: Version, field?: string): void {
    let q = this.queues.get(v.node)
    if (q === undefined) {
      q = new OriginQueue()
      this.queues.set(v.node, q)
    }
    q.push(key, v.wall, v.logical, field)
  }

  /**
   * Raises node's stable timestamp (never lowers it). `agoMs`: how long ago a
   * peer that relays it first heard it (0: just now). Its grace runs from then,
   * capped at the grace, so a node that hears it late (a newcomer, a node
   * restarted empty) collects when the others do, not a grace later; the grace
   * covers messages sent before the tombstone was stable, whoever heard it
   * first. True when it moved, or is now known to be older.
   */
  setStable (node: string, ts: Timestamp, agoMs = 0, local = false): boolean {
    const at = this.now() - Math.max(0, Math.min(agoMs, this.graceMs))
    const current = this.stable.get(node)
    const order = current === undefined ? 1 : compareTimestamps(ts, current)
    if (order < 0 || (order === 0 && at >= (this.stableAt.get(node) ?? -Infinity))) return false
    if (local) this.local.add(node)
    else this.local.delete(node)
    this.stable.set(node, { wall: ts.wall, logical: ts.logical })
    this.stableAt.set(node, at)
    if (this.graceMs <= 0) {
      this.collectable.set(node, { wall: ts.wall, logical: ts.logical })
    } else {
      let list = this.pending.get(node)
      if (list === undefined) this.pending.set(node, list = [])
      // Kept in order of `at`: one heard later than this (and at or below it) is superseded.
      while (list.length > 0 && (list[list.length - 1] as { at: number }).at >= at) list.pop()
      list.push({ ts: { wall: ts.wall, logical: ts.logical }, at })
    }
    return true
  }

  /** How long ago node's stable timestamp was first heard, ms (here or by the relaying peer). */
  stableAge (node: string): number {
    return Math.max(0, this.now() - (this.stableAt.get(node) ?? this.now()))
  }

  /** Whether a tombstone of `node` at `wall`.`logical` may be collected: stable for at least the grace. */
  isCollectable (node: string, wall: number, logical: number): boolean {
    const list = this.pending.get(node)
    if (list !== undefined) {
      const ripe = this.now() - this.graceMs
      let n = 0
      while (n < list.length && (list[n] as { at: number }).at <= ripe) n++
      if (n > 0) {
        this.collectable.set(node, (list[n - 1] as { ts: Timestamp }).ts)
        if (n === list.length) this.pending.delete(node)
        else list.splice(0, n)
      }
    }
    return atOrBelow(wall, logical, this.collectable.get(node))
  }

  stableOf (node: string): Timestamp | undefined {
    return this.stable.get(node)
  }

  /** Every writer's stable timestamp known here, but those this node worked out alone (`local`): the ones to pass on. */
  * stableTimestamps (): IterableIterator<[string, Timestamp]> {
    for (const entry of this.stable) if (!this.local.has(entry[0])) yield entry
  }

  /** Writers with tombstones queued here, each with the greatest version queued. */
  * writers (): IterableIterator<[string, Timestamp]> {
    for (const [node, q] of this.queues) yield [node, q.max]
  }

  /** Whether a version of `node` is at or below what every member holds. */
  isStable (v: Version): boolean {
    return atOrBelow(v.wall, v.logical, this.stable.get(v.node))
  }

  /** Queued tombstones (stale ones not yet popped included). */
  get queued (): number {
    let n = 0
    for (const q of this.queues.values()) n += q.length
    return n
  }

  /** The oldest queued tombstone by wall (a stale one, overwritten since, may stand in for it); null if none. */
  oldest (): { node: string, wall: number } | null {
    let best: { node: string, wall: number } | null = null
    for (const [node, q] of this.queues) {
      const wall = q.walls[0]
      if (wall !== undefined && (best === null || wall < best.wall)) best = { node, wall }
    }
    return best
  }

  /**
   * Pops each writer's minimum while `check` says it is stale or collected, up
   * to `budget` of them; a minimum to keep stops that writer (every other
   * tombstone of it is newer). Returns how many were popped.
   */
  collect (budget: number, check: (key: string, wall: number, logical: number, node: string, field: string | undefined) => TombstoneVerdict): number {
    let popped = 0
    for (const [node, q] of this.queues) {
      while (q.length > 0 && popped < budget) {
        // Popped before the check, which may queue (push) a tombstone of its own: a hash emptied
        // by a collected field removal is queued as a tombstone at once.
        const key = q.keys[0] as string
        const wall = q.walls[0] as number
        const logical = q.logicals[0] as number
        const field = q.fields[0]
        q.pop()
        if (check(key, wall, logical, node, field) === 'keep') {
          q.push(key, wall, logical, field)
          break
        }
        popped++
      }
      if (q.length === 0) this.queues.delete(node)
      if (popped >= budget) break
    }
    return popped
  }

}

/** Whether (wall, logical) is at or below `limit` (false when there is none). */
function atOrBelow (wall: number, logical: number, limit: Timestamp | undefined): boolean {
  return limit !== undefined && compareTimestamps({ wall, logical }, limit) <= 0
}
