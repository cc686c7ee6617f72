import type { Timestamp } from './clock.js'
import type { Version } from './entry.js'

// PROTOCOL.md §Tombstones. Every tombstone the store takes is queued under the
// node that wrote it, in arrival order (which is nearly version order: each
// node's writes reach the others in the order it made them). Collection pops
// queue heads, so it never walks the store; a head that no longer is the key's
// entry (overwritten since) is simply dropped from the queue.

/** What the store says of a queued tombstone: gone already, collect it now, or not yet. */
export type TombstoneVerdict = 'stale' | 'collected' | 'keep'

class OriginQueue {
  keys: string[] = []
  walls: number[] = []
  logicals: number[] = []
  head = 0

  get length (): number {
    return this.keys.length - this.head
  }

  /** Drops the popped heads once they are most of the arrays (amortised O(1) per pop). */
  compact (): void {
    if (this.head < 1024 || this.head * 2 < this.keys.length) return
    this.keys = this.keys.slice(this.head)
    this.walls = this.walls.slice(this.head)
    this.logicals = this.logicals.slice(this.head)
    this.head = 0
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

  constructor (readonly graceMs = DEFAULT_TOMBSTONE_GRACE_MS, private readonly now: () => number = Date.now) {}
  /**
   * Per writer node: the timestamp up to which every member holds every write
   * of that node (it tells us with STABLE). A tombstone of that node at or below
   * it can go: no member holds an older value it would have to beat.
   */
  private readonly stable = new Map<string, Timestamp>()

  add (key: string, v: Version): void {
    let q = this.queues.get(v.node)
    if (q === undefined) {
      q = new OriginQueue()
      this.queues.set(v.node, q)
    }
    q.keys.push(key)
    q.walls.push(v.wall)
    q.logicals.push(v.logical)
  }

  /** Raises node's stable timestamp (never lowers it). True when it moved. */
  setStable (node: string, ts: Timestamp): boolean {
    const now = this.stable.get(node)
    if (now !== undefined && (now.wall > ts.wall || (now.wall === ts.wall && now.logical >= ts.logical))) return false
    this.stable.set(node, { wall: ts.wall, logical: ts.logical })
    if (this.graceMs <= 0) {
      this.collectable.set(node, { wall: ts.wall, logical: ts.logical })
    } else {
      let list = this.pending.get(node)
      if (list === undefined) this.pending.set(node, list = [])
      list.push({ ts: { wall: ts.wall, logical: ts.logical }, at: this.now() })
    }
    return true
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
    const s = this.collectable.get(node)
    return s !== undefined && (wall < s.wall || (wall === s.wall && logical <= s.logical))
  }

  stableOf (node: string): Timestamp | undefined {
    return this.stable.get(node)
  }

  /** Every writer's stable timestamp known here. */
  stableTimestamps (): IterableIterator<[string, Timestamp]> {
    return this.stable.entries()
  }

  /** Whether a version of `node` is at or below what every member holds. */
  isStable (v: Version): boolean {
    const s = this.stable.get(v.node)
    return s !== undefined && (v.wall < s.wall || (v.wall === s.wall && v.logical <= s.logical))
  }

  /** Queued tombstones (stale ones not yet popped included). */
  get queued (): number {
    let n = 0
    for (const q of this.queues.values()) n += q.length
    return n
  }

  /**
   * Pops queue heads while `check` says they are stale or collected, up to
   * `budget` of them; a head to keep stops its queue. Returns how many were popped.
   */
  collect (budget: number, check: (key: string, wall: number, logical: number, node: string) => TombstoneVerdict): number {
    let popped = 0
    for (const [node, q] of this.queues) {
      while (q.head < q.keys.length && popped < budget) {
        const i = q.head
        if (check(q.keys[i] as string, q.walls[i] as number, q.logicals[i] as number, node) === 'keep') break
        q.head++
        popped++
      }
      q.compact()
      if (q.length === 0) this.queues.delete(node)
      if (popped >= budget) break
    }
    return popped
  }

  clear (): void {
    this.queues.clear()
  }
}
