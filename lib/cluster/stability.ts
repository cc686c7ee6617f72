import type { Timestamp } from '../store/clock.js'

// PROTOCOL.md §Tombstones: the timestamp T up to which every member holds every
// local write of this node. Peers acknowledge local writes by sequence number
// (a link's ackedSeq; a down member's stalls), so T is the clock's timestamp
// at the oldest sequence number some member has not acknowledged. The clock's
// ticks grow with the sequence numbers (a write that outranks a far-ahead
// entry gets a larger version than its tick, never a smaller one), so every
// local write with a version at or below the tick of write S has a sequence
// number at or below S.

/** Samples kept at most; beyond it every other one is dropped (T stays correct, only coarser). */
const MAX_SAMPLES = 8192

export class StableClock {
  /** (seq, tick) samples, by seq: at most one per millisecond, the last of it. */
  private seqs: number[] = []
  private walls: number[] = []
  private logicals: number[] = []

  /** Local write `seq` was stamped from the clock's tick (wall, logical). */
  record (seq: number, wall: number, logical: number): void {
    const last = this.walls.length - 1
    if (last >= 0 && this.walls[last] === wall) {
      this.seqs[last] = seq
      this.logicals[last] = logical
      return
    }
    this.seqs.push(seq)
    this.walls.push(wall)
    this.logicals.push(logical)
    if (this.seqs.length > MAX_SAMPLES) this.thin()
  }

  /**
   * T, given that every member has acknowledged every local write up to
   * `acked`: the tick of the last sample at or below it; null when none is.
   * Samples before that one are no longer needed (acknowledgements only move
   * on, save for a new member, which starts from nothing and sees T held back).
   */
  stableAt (acked: number): Timestamp | null {
    let lo = 0
    let hi = this.seqs.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if ((this.seqs[mid] as number) <= acked) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    if (found < 0) return null
    const ts = { wall: this.walls[found] as number, logical: this.logicals[found] as number }
    if (found > 1024) {
      this.seqs = this.seqs.slice(found)
      this.walls = this.walls.slice(found)
      this.logicals = this.logicals.slice(found)
    }
    return ts
  }

  private thin (): void {
    const keep = (_: number, i: number, all: number[]): boolean => i % 2 === 0 || i === all.length - 1
    this.seqs = this.seqs.filter(keep)
    this.walls = this.walls.filter(keep)
    this.logicals = this.logicals.filter(keep)
  }
}
