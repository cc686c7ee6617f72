import type { Bytes } from './bytes.js'
import type { Timestamp, Version } from './clock.js'
import type { CounterState } from './counter.js'
import type { HashState } from './hash.js'

export { compareVersions, type Version } from './clock.js'

/**
 * One key's state (PROTOCOL.md §Versions). Every write and delete carries a
 * version: a hybrid-clock timestamp plus the id of the node that made it. Versions
 * are totally ordered, so every node picks the same winner for a key.
 */
export interface Entry extends Timestamp {
  /** The value's bytes, or null for a tombstone left by a delete. */
  value: Bytes | null
  /** Absolute expiry, ms since the epoch; 0 for none. Part of the replicated state. */
  expiresAt: number
  /** Id of the node that made this version. */
  node: string
  /**
   * A key that has been incremented (PROTOCOL.md §Counters): its base and
   * contributions. `value` is then what they add up to, the version and expiry
   * are the base's, and the entry is replaced, never changed in place.
   */
  counter?: CounterState
  /**
   * A hash key (PROTOCOL.md §Hashes): its fields, each merged on its own. The
   * version and expiry are then the key's (its creation, DEL, EXPIRE, PERSIST:
   * the writes that act on the key as a whole), and `value` is HASH_VALUE while
   * a field is present, null when none is (a hash tombstone).
   */
  hash?: HashState
}

/** The `value` of a hash entry with a present field: never read as bytes (string commands answer WRONGTYPE). */
export const HASH_VALUE: Buffer = Buffer.alloc(0)

/**
 * The version of a counter's base when no SET ever made one (a key created by
 * INCR): below every real version, so any SET wins over it. `-` sorts before
 * every node id we make.
 */
export const NO_BASE: Version = { wall: 0, logical: 0, node: '-' }


export function isExpired (entry: Entry, now: number): boolean {
  return entry.expiresAt !== 0 && entry.expiresAt <= now
}

/** A value that is there: not a tombstone and not past its expiry. */
export function isLive (entry: Entry, now: number): boolean {
  return entry.value !== null && !isExpired(entry, now)
}
