import { compareTimestamps, type Timestamp } from './clock.js'

/**
 * One key's state (PROTOCOL.md §Versions). Every write and delete carries a
 * version: a hybrid-clock timestamp plus the id of the node that made it. Versions
 * are totally ordered, so every node picks the same winner for a key.
 */
export interface Entry extends Timestamp {
  /** The value's bytes, or null for a tombstone left by a delete. */
  value: Buffer | null
  /** Absolute expiry, ms since the epoch; 0 for none. Part of the replicated state. */
  expiresAt: number
  /** Id of the node that made this version. */
  node: string
}

export type Version = Pick<Entry, 'wall' | 'logical' | 'node'>

/** Total order on versions: timestamp, then node id. */
export function compareVersions (a: Version, b: Version): number {
  return compareTimestamps(a, b) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
}

export function isExpired (entry: Entry, now: number): boolean {
  return entry.expiresAt !== 0 && entry.expiresAt <= now
}

/** A value that is there: not a tombstone and not past its expiry. */
export function isLive (entry: Entry, now: number): boolean {
  return entry.value !== null && !isExpired(entry, now)
}
