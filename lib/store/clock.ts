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
    } else {
      this.logical++
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
