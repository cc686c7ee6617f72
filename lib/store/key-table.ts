import { storedBytes } from './bytes.js'
import { Cells, isSmallPlain } from './cells.js'
import { DIGEST_BUCKETS } from './digest.js'
import { isLive, type Entry } from './entry.js'
import { NodeTable } from './packed.js'

/**
 * Where the store's keys live (DESIGN.md §Memory per key): one map per bucket
 * (DIGEST_BUCKETS of them, the digest's and SCAN's), keyed by the rest of the
 * key's hash (keyHash, which the store computes for the digest anyway), not
 * by the key: a small integer, compared without reading a string, where a
 * string key cost a cache miss on the key's own object in every lookup. The map
 * holds, under that number:
 * - a cell's number, for a small plain value or a tombstone (cells.ts): the
 *   cell holds the key's bytes, compared in place;
 * - a KeyedEntry (the key and its entry object) for the rest: counters, hashes,
 *   larger values, long keys;
 * - Collisions, the rare case of two keys with one hash (about one key in
 *   10,000 at 1,000,000 keys): a list of the above.
 * What an entry means (counts, expiry, tombstones, digests) is the Store's
 * business; this only keeps entries and finds them.
 *
 * It remembers its last lookup: a write looks its key up, then stores the new
 * entry, and a command may read a key before it writes it; a second lookup
 * would cost as much as the first. Every change to a map goes through set()
 * or delete(), which keep the remembered lookup true and free cells.
 */

/** Bits of the key's hash that pick its bucket; the map's key is the rest. */
const BUCKET_BITS = Math.log2(DIGEST_BUCKETS)

class KeyedEntry {
  constructor (readonly key: string, public entry: Entry) {}
}

class Collisions {
  constructor (readonly items: Item[]) {}
}

/** One key's place: its cell's number, or its entry object with the key. */
type Item = number | KeyedEntry
/** What a map holds under a hash: one key's item, or several. */
type Slot = Item | Collisions

export class KeyTable {
  private readonly buckets: Array<Map<number, Slot> | undefined> = new Array(DIGEST_BUCKETS)
  /** Keys per bucket (a map's size counts colliding keys once). */
  private readonly sizes = new Int32Array(DIGEST_BUCKETS)
  private readonly cells = new Cells(new NodeTable())
  private lastKey: string | null = null
  private lastHash = 0
  /** What the map held under the last key's hash, and the key's own item there. */
  private lastSlot: Slot | undefined = undefined
  private lastItem: Item | undefined = undefined

  /** Keys (values and tombstones) kept in cells (tests check that removed keys give theirs back). */
  get cellsInUse (): number {
    return this.cells.live
  }

  /**
   * The key's entry (`h`: keyHash(key)): the stored object, or a fresh one read
   * out of its cell (a change to that one changes nothing stored: every change
   * goes through set()).
   */
  get (h: number, key: string): Entry | undefined {
    const item = this.lookUp(h, key)
    return item === undefined ? undefined : this.entryOf(item)
  }

  /**
   * get() for a write that replaces the value: a cell's value is not read out
   * (it is UNREAD, or null for a tombstone), since the write only needs the
   * old version, expiry and kind; copying out 100 bytes a write cost 6% of a
   * bulk overwrite.
   */
  getForWrite (h: number, key: string): Entry | undefined {
    const item = this.lookUp(h, key)
    return item === undefined ? undefined : typeof item === 'number' ? this.cells.read(item, false) : item.entry
  }

  /**
   * Stores the key's new entry: in the key's own cell when it has one of the
   * size (written in place: no second lookup), in another cell, or as an
   * object.
   */
  set (h: number, key: string, entry: Entry): void {
    this.lookUp(h, key)
    const was = this.lastItem
    const cell = this.cells.store(key, entry, typeof was === 'number' ? was : -1)
    // A plain entry kept as an object (a version or key out of a cell's range) must still not hold a view into the caller's buffer.
    if (cell < 0 && isSmallPlain(entry) && entry.value !== null) {
      entry.value = storedBytes(entry.value, true)
    }
    let now: Item
    if (cell >= 0) {
      now = cell
    } else if (was instanceof KeyedEntry) {
      was.entry = entry
      now = was
    } else {
      now = new KeyedEntry(key, entry)
    }
    this.lastItem = now
    if (now === was) return // a cell written in place, or the same holder: the map has it already
    const b = h & (DIGEST_BUCKETS - 1)
    let bucket = this.buckets[b]
    if (bucket === undefined) {
      bucket = new Map()
      this.buckets[b] = bucket
    }
    const slot = this.lastSlot
    let next: Slot
    if (was === undefined) {
      this.sizes[b] = (this.sizes[b] as number) + 1
      if (slot === undefined) {
        next = now
      } else if (slot instanceof Collisions) {
        slot.items.push(now)
        next = slot
      } else {
        next = new Collisions([slot, now])
      }
    } else if (slot instanceof Collisions) {
      slot.items[slot.items.indexOf(was)] = now
      next = slot
    } else {
      next = now
    }
    if (next !== slot) bucket.set(h >>> BUCKET_BITS, next)
    this.lastSlot = next
  }

  /** Takes the key out of its bucket, and gives its cell back. */
  delete (h: number, key: string): void {
    const item = this.lookUp(h, key)
    this.lastKey = null
    if (item === undefined) return
    if (typeof item === 'number') this.cells.release(item)
    const b = h & (DIGEST_BUCKETS - 1)
    const bucket = this.buckets[b] as Map<number, Slot>
    const slot = this.lastSlot
    this.sizes[b] = (this.sizes[b] as number) - 1
    if (slot instanceof Collisions) {
      slot.items.splice(slot.items.indexOf(item), 1)
      if (slot.items.length === 1) bucket.set(h >>> BUCKET_BITS, slot.items[0] as Item)
    } else {
      bucket.delete(h >>> BUCKET_BITS)
    }
  }

  /** Keys in bucket b, tombstones included. */
  bucketSize (b: number): number {
    return this.sizes[b] as number
  }

  /** Every entry of bucket b, tombstones included (the keys are strings made for the call). */
  forEachIn (b: number, fn: (key: string, entry: Entry) => void): void {
    this.forEachItem(b, item => {
      if (typeof item === 'number') fn(this.cells.keyOf(item), this.cells.read(item))
      else fn(item.key, item.entry)
    })
  }

  /** The keys of bucket b that hold a value not past its expiry at `now`, without reading entries out. */
  forEachLiveKey (b: number, now: number, fn: (key: string) => void): void {
    this.forEachItem(b, item => {
      if (typeof item === 'number') {
        if (this.cells.isLive(item, now)) fn(this.cells.keyOf(item))
      } else if (isLive(item.entry, now)) {
        fn(item.key)
      }
    })
  }

  /**
   * Every key's item in bucket b. `fn` may change the store: a map visits what
   * is there when it gets to it, and a key taken out of a list of collisions
   * before its turn is not visited.
   */
  private forEachItem (b: number, fn: (item: Item) => void): void {
    const bucket = this.buckets[b]
    if (bucket === undefined) return
    for (const slot of bucket.values()) {
      if (!(slot instanceof Collisions)) {
        fn(slot)
        continue
      }
      for (const item of slot.items.slice()) if (slot.items.includes(item)) fn(item)
    }
  }

  /** The key's item, remembered with what its map holds under its hash. */
  private lookUp (h: number, key: string): Item | undefined {
    if (key === this.lastKey && h === this.lastHash) return this.lastItem
    const slot = this.buckets[h & (DIGEST_BUCKETS - 1)]?.get(h >>> BUCKET_BITS)
    const item = slot === undefined ? undefined : slot instanceof Collisions ? this.find(slot.items, key) : this.isOf(slot, key) ? slot : undefined
    this.lastKey = key
    this.lastHash = h
    this.lastSlot = slot
    this.lastItem = item
    return item
  }

  private find (items: readonly Item[], key: string): Item | undefined {
    for (const item of items) if (this.isOf(item, key)) return item
    return undefined
  }

  private isOf (item: Item, key: string): boolean {
    return typeof item === 'number' ? this.cells.holds(item, key) : item.key === key
  }

  private entryOf (item: Item): Entry {
    return typeof item === 'number' ? this.cells.read(item) : item.entry
  }
}
