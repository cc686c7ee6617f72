// PROTOCOL.md §Versions: a hybrid logical clock. A timestamp is a wall-clock
// millisecond plus a logical counter; it never goes backwards and it moves past
// every timestamp this node has seen, so a causally later write always carries
// a larger timestamp than the write it follows.

export interface Timestamp {
  /** Milliseconds since the Unix epoch, as the writer's clock saw them (or later). */
  wall: number
  /** Orders events within one millisecond. */
  logical: number
}

/**
 * The largest logical count a timestamp carries: every encoding holds it in 32
 * bits (FORMAT.md, the cells). The wire refuses a larger one, and a local
 * timestamp that would pass it takes the next millisecond instead (successor).
 */
export const MAX_LOGICAL = 0xffffffff

/**
 * The smallest timestamp after `ts`: the next logical count, or the next
 * millisecond at count 0 once the count is at MAX_LOGICAL. So a run of local
 * writes after a peer's timestamp far on in logical time stays encodable.
 */
export function successor (ts: Timestamp): Timestamp {
  return ts.logical < MAX_LOGICAL ? { wall: ts.wall, logical: ts.logical + 1 } : { wall: ts.wall + 1, logical: 0 }
}

/** How far ahead of our wall clock a received timestamp may be before we refuse to follow it. */
export const DEFAULT_MAX_DRIFT_MS = 60_000

export interface ClockOptions {
  /** The physical clock, ms since the epoch. Tests pass a fake. */
  now?: () => number
  /** Largest lead, ms, of a remote timestamp over our clock that we still adopt. */
  maxDriftMs?: number
}

export class HybridClock {
  private wall = 0
  private logical = 0
  private readonly physical: () => number
  readonly maxDriftMs: number

  constructor (options: ClockOptions = {}) {
    this.physical = options.now ?? Date.now
    this.maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS
  }

  /** Physical time, ms. */
  physicalNow (): number {
    return this.physical()
  }

  /** A new timestamp for a local event, larger than any issued or observed before. */
  tick (): Timestamp {
    const now = this.physical()
    if (now > this.wall) {
      this.wall = now
      this.logical = 0
    } else if (this.logical < MAX_LOGICAL) {
      this.logical++
    } else { // successor(): the count is full, the next millisecond begins
      this.wall++
      this.logical = 0
    }
    return { wall: this.wall, logical: this.logical }
  }

  /**
   * Moves the clock past a timestamp received from a peer. A timestamp more than
   * `maxDriftMs` ahead of our physical clock is not followed (a peer whose clock
   * runs fast must not drag every node's clock with it); returns false then, so
   * the caller can log it.
   */
  observe (ts: Timestamp): boolean {
    if (ts.wall > this.physical() + this.maxDriftMs) return false
    if (ts.wall > this.wall || (ts.wall === this.wall && ts.logical > this.logical)) {
      this.wall = ts.wall
      this.logical = ts.logical
    }
    return true
  }

  /** The last timestamp issued or observed. */
  peek (): Timestamp {
    return { wall: this.wall, logical: this.logical }
  }
}

/** Whether `wall` can be a timestamp's: a whole millisecond, not negative (NaN or a fraction would break the total order). */
export function isWall (wall: number): boolean {
  return Number.isSafeInteger(wall) && wall >= 0
}

export function compareTimestamps (a: Timestamp, b: Timestamp): number {
  return a.wall - b.wall || a.logical - b.logical
}

/** A timestamp and the id of the node that made it: the version of a write (PROTOCOL.md §Versions). */
export interface Version extends Timestamp {
  node: string
}

/** Total order on versions: timestamp, then node id. */
export function compareVersions (a: Version, b: Version): number {
  return compareTimestamps(a, b) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
}
