import { storedBytes } from './bytes.js'
import { Cells, isSmallPlain } from './cells.js'
import { DIGEST_BUCKETS } from './digest.js'
import { isLive, type Entry } from './entry.js'
import { NodeTable } from './packed.js'

/**
 * Where the store's keys live (DESIGN.md §Memory per key): one map per bucket
 * (DIGEST_BUCKETS of them, the digest's and SCAN's), from a key to its entry
 * object or, for a small plain value or a tombstone, the number of the cell
 * holding it (cells.ts). What an entry means (counts, expiry, tombstones,
 * digests) is the Store's business; this only keeps entries and finds them.
 *
 * It remembers its last lookup (the key, its bucket and what the map held): a
 * write looks its key up, then stores the new entry, and a command may read a
 * key before it writes it; a second lookup would cost as much as the first
 * (about 0.5 µs at 1,000,000 keys). Every change to a map goes through set()
 * or delete(), which keep the remembered lookup true and free cells.
 */
export class KeyTable {
  private readonly buckets: Array<Map<string, Entry | number> | undefined> = new Array(DIGEST_BUCKETS)
  private readonly cells = new Cells(new NodeTable())
  private lastKey: string | null = null
  private lastBucket = -1
  private lastStored: Entry | number | undefined = undefined

  /** Keys (values and tombstones) kept in cells (tests check that removed keys give theirs back). */
  get cellsInUse (): number {
    return this.cells.live
  }

  /**
   * The key's entry in bucket b: the stored object, or a fresh one read out of
   * its cell (a change to that one changes nothing stored: every change goes
   * through set()).
   */
  get (b: number, key: string): Entry | undefined {
    const stored = this.lookUp(b, key)
    return stored === undefined ? undefined : this.entryOf(stored)
  }

  /**
   * get() for a write that replaces the value: a cell's value is not read out
   * (it is UNREAD, or null for a tombstone), since the write only needs the
   * old version, expiry and kind; copying out 100 bytes a write cost 6% of a
   * bulk overwrite.
   */
  getForWrite (b: number, key: string): Entry | undefined {
    const stored = this.lookUp(b, key)
    return stored === undefined ? undefined : typeof stored === 'number' ? this.cells.read(stored, false) : stored
  }

  /**
   * Stores the key's new entry: in the key's own cell when it has one of the
   * size (written in place: no second lookup), in another cell, or as the
   * object. `replacing`: the key is in the table now.
   */
  set (b: number, key: string, entry: Entry, replacing: boolean): void {
    let bucket = this.buckets[b]
    if (bucket === undefined) {
      bucket = new Map()
      this.buckets[b] = bucket
    }
    const was = replacing ? this.stored(b, key) : undefined
    const cell = this.cells.store(entry, typeof was === 'number' ? was : -1)
    // A plain entry kept as an object (a version out of the cell's range) must still not hold a view into the caller's buffer.
    if (cell < 0 && isSmallPlain(entry) && entry.value !== null) {
      entry.value = storedBytes(entry.value, true)
    }
    const now = cell >= 0 ? cell : entry
    if (now !== was) bucket.set(key, now) // a cell written in place is stored already
    this.lastKey = key
    this.lastBucket = b
    this.lastStored = now
  }

  /** Takes the key out of its bucket, and gives its cell back. */
  delete (b: number, key: string): void {
    const stored = this.stored(b, key)
    if (stored === undefined) return
    if (typeof stored === 'number') this.cells.release(stored)
    this.buckets[b]?.delete(key)
    this.lastKey = null
  }

  /** Keys in bucket b, tombstones included. */
  bucketSize (b: number): number {
    return this.buckets[b]?.size ?? 0
  }

  /** Every entry of bucket b, tombstones included. */
  forEachIn (b: number, fn: (key: string, entry: Entry) => void): void {
    const bucket = this.buckets[b]
    if (bucket !== undefined) for (const [key, stored] of bucket) fn(key, this.entryOf(stored))
  }

  /** The keys of bucket b that hold a value not past its expiry at `now`, without reading entries out. */
  forEachLiveKey (b: number, now: number, fn: (key: string) => void): void {
    const bucket = this.buckets[b]
    if (bucket === undefined) return
    for (const [key, stored] of bucket) {
      if (typeof stored === 'number' ? this.cells.isLive(stored, now) : isLive(stored, now)) fn(key)
    }
  }

  /** The lookup, remembered. */
  private lookUp (b: number, key: string): Entry | number | undefined {
    const stored = this.stored(b, key)
    this.lastKey = key
    this.lastBucket = b
    this.lastStored = stored
    return stored
  }

  /** What bucket b holds for the key: the last lookup when it was of this key. */
  private stored (b: number, key: string): Entry | number | undefined {
    return key === this.lastKey && b === this.lastBucket ? this.lastStored : this.buckets[b]?.get(key)
  }

  private entryOf (stored: Entry | number): Entry {
    return typeof stored === 'number' ? this.cells.read(stored) : stored
  }
}
