import { storedBytes } from './bytes.js'
import { Cells, isSmallPlain } from './cells.js'
import { DIGEST_BUCKETS } from './digest.js'
import type { Contribution } from './counter.js'
import { isLive, type Entry } from './entry.js'
import { NodeTable } from './packed.js'
import { halfSipHash13, randomSipKey } from './sip-hash.js'

/**
 * Where the store's keys live (DESIGN.md §Memory per key): a hash table of our
 * own per bucket (DIGEST_BUCKETS of them, the digest's and SCAN's, picked by
 * the low bits of the key's keyHash), open addressing with linear probing in an
 * Int32Array, placed by the rest of keyHash, which the store computes anyway.
 * keyHash is public and its collisions cheap to make, so keys chosen to share
 * it would all probe the same run of slots: a table where a lookup probed
 * more than rekeyAt() slots is placed again by a keyed hash (HalfSipHash-1-3 with
 * a secret key per process, sip-hash.ts) from then on, which such keys cannot
 * aim at. A slot is two numbers: the placement hash, and a reference:
 * - a cell's number plus one, for a small plain value, a tombstone or a
 *   counter of one contribution (cells.ts): the cell holds the key's bytes,
 *   compared in place;
 * - minus one minus an index into `objects`, a KeyedEntry (the key's string
 *   and its entry object) for the rest: other counters, hashes, larger values,
 *   long keys;
 * - 0: the slot is empty.
 * So a lookup reads one slot (the hash compared before anything else) and
 * then the key's cell, which the write reads anyway: two cache misses, where a
 * V8 Map keyed by the key's string took three before the cell (the table's
 * bucket, its entry, the key's string object), and no string per small key
 * for the collector. What an entry means (counts, expiry, tombstones, digests)
 * is the Store's business; this only keeps entries and finds them.
 *
 * It remembers its last lookup: a write looks its key up, then stores the new
 * entry, and a command may read a key before it writes it; a second lookup
 * would cost as much as the first. Every change goes through set() or
 * delete(), which keep the remembered lookup true and free cells.
 */

/** Slots of a bucket's first table; it doubles past 3/4 full. */
const FIRST_SLOTS = 8

/** Slots warm() reads at most: most keys are in the first or second slot of their probe. */
const WARM_SLOTS = 4

class KeyedEntry {
  constructor (readonly key: string, public entry: Entry) {}
}

/**
 * Slots a lookup in a table of `size` slots may probe before the table is
 * placed by the keyed hash. The longest run of a table at most 3/4 full whose
 * keys spread as a random hash's grows with the log of its size (measured, in
 * tables of 512 and 1,024 slots: 46 slots at 1,000,000 keys, 113 at
 * 3,000,000), so past this the keys were chosen to collide; and a lookup among
 * keys made to stay under it reads at most this many slots.
 */
function rekeyAt (size: number): number {
  return 64 + 16 * (31 - Math.clz32(size))
}

/** One bucket's table: `slots[2i]` the key's placement hash, `slots[2i + 1]` its reference (0: empty). */
class Bucket {
  slots = new Int32Array(FIRST_SLOTS * 2)
  mask = FIRST_SLOTS - 1
  count = 0
  /** Placed by the keyed hash rather than keyHash. */
  keyed = false
}

/** The slot a placement hash probes first: bits above those that picked the bucket. */
function home (p: number, mask: number): number {
  return (p >>> 12) & mask
}

/** The keyed placement of a key (tests choose one to make keys share slots there too). */
export type Placement = (key: string) => number

export class KeyTable {
  private readonly buckets: Array<Bucket | undefined> = new Array(DIGEST_BUCKETS)
  private readonly cells = new Cells(new NodeTable())
  /** Entries kept as objects; a slot names one by its index here. */
  private readonly objects: Array<KeyedEntry | undefined> = []
  private readonly freeObjects: number[] = []
  /** Walks of a bucket going on: a change now would move slots under them. */
  private walking = 0
  private lastKey: string | null = null
  private lastHash = 0
  /** The last key's placement hash. */
  private lastPlace = 0
  /** Where the last key is (its slot), or, when absent, the empty slot its probe ended at (-1: no bucket). */
  private lastIndex = -1
  /** The last key's reference (0: absent). */
  private lastRef = 0
  /** Slots the last probe read. */
  private probed = 0

  private readonly sipKey = randomSipKey()
  private rekeyed = 0

  /** `placement`: none, the keyed hash; tests choose it, and when tables turn to it. */
  constructor (private readonly placement: Placement | null = null, private readonly rekeyAfter: (size: number) => number = rekeyAt) {}

  /** Tables placed by the keyed hash (tests: keys made to collide turn their table over to it). */
  get keyedTables (): number {
    return this.rekeyed
  }

  /** Keys (values and tombstones) kept in cells (tests check that removed keys give theirs back). */
  get cellsInUse (): number {
    return this.cells.live
  }

  /** Entries kept as objects (tests check that removed keys give theirs back). */
  get objectsInUse (): number {
    return this.objects.length - this.freeObjects.length
  }

  /**
   * The key's entry (`h`: keyHash(key)): the stored object, or a fresh one read
   * out of its cell (a change to that one changes nothing stored: every change
   * goes through set()).
   */
  get (h: number, key: string): Entry | undefined {
    const ref = this.lookUp(h, key)
    return ref === 0 ? undefined : this.entryOf(ref, true)
  }

  /**
   * get() for a write that replaces the value: a cell's value is not read out
   * (it is UNREAD, or null for a tombstone), since the write only needs the
   * old version, expiry and kind; copying out 100 bytes a write cost 6% of a
   * bulk overwrite.
   */
  getForWrite (h: number, key: string): Entry | undefined {
    const ref = this.lookUp(h, key)
    return ref === 0 ? undefined : this.entryOf(ref, false)
  }

  /**
   * The key's counter cell after its one contribution, `c`, changed in place
   * (Store.increment): the new numbers written into the cell, with the lookup
   * that found it. False when the key is not in such a cell, or `c` no longer
   * fits one: the caller stores the entry with set().
   */
  setContribution (h: number, key: string, c: Contribution): boolean {
    const ref = this.lookUp(h, key)
    return ref > 0 && this.cells.updateContribution(ref - 1, c)
  }

  /**
   * Stores the key's new entry: in the key's own cell when it has one of the
   * size (written in place: no second lookup), in another cell, or as an
   * object.
   */
  set (h: number, key: string, entry: Entry): void {
    this.notWalking()
    const was = this.lookUp(h, key)
    const cell = this.cells.store(key, entry, was > 0 ? was - 1 : -1)
    // A plain entry kept as an object (a version or key out of a cell's range) must still not hold a view into the caller's buffer.
    if (cell < 0 && isSmallPlain(entry) && entry.value !== null) {
      entry.value = storedBytes(entry.value, true)
    }
    let ref: number
    if (cell >= 0) {
      ref = cell + 1
      if (was < 0) this.freeObject(was)
    } else if (was < 0) {
      this.objectOf(was).entry = entry
      ref = was
    } else {
      ref = this.newObject(key, entry)
    }
    if (ref === was) return // a cell written in place, or the same holder: the slot has it already
    this.lastRef = ref
    const b = h & (DIGEST_BUCKETS - 1)
    if (was !== 0) {
      (this.buckets[b] as Bucket).slots[this.lastIndex * 2 + 1] = ref
      return
    }
    let bucket = this.buckets[b]
    if (bucket === undefined) {
      bucket = new Bucket()
      this.buckets[b] = bucket
      this.lastIndex = home(this.lastPlace, bucket.mask)
    }
    if ((bucket.count + 1) * 4 > (bucket.mask + 1) * 3) {
      this.grow(bucket)
      this.lastIndex = this.emptySlot(bucket, this.lastPlace)
    }
    bucket.slots[this.lastIndex * 2] = this.lastPlace
    bucket.slots[this.lastIndex * 2 + 1] = ref
    bucket.count++
  }

  /** Takes the key out of its bucket, and gives its cell back. */
  delete (h: number, key: string): void {
    this.notWalking()
    const ref = this.lookUp(h, key)
    this.lastKey = null // slots move below
    if (ref === 0) return
    if (ref > 0) this.cells.release(ref - 1)
    else this.freeObject(ref)
    const bucket = this.buckets[h & (DIGEST_BUCKETS - 1)] as Bucket
    const { slots, mask } = bucket
    // Linear probing's deletion: each key after the hole up to the next empty
    // slot moves into it unless its probe starts after the hole.
    let hole = this.lastIndex
    for (let j = (hole + 1) & mask; slots[j * 2 + 1] !== 0; j = (j + 1) & mask) {
      const start = home(slots[j * 2] as number, mask)
      const stays = hole <= j ? hole < start && start <= j : hole < start || start <= j
      if (stays) continue
      slots[hole * 2] = slots[j * 2] as number
      slots[hole * 2 + 1] = slots[j * 2 + 1] as number
      hole = j
    }
    slots[hole * 2] = 0
    slots[hole * 2 + 1] = 0
    bucket.count--
  }

  /** Keys in bucket b, tombstones included. */
  bucketSize (b: number): number {
    return this.buckets[b]?.count ?? 0
  }

  /** Every entry of bucket b, tombstones included (a small key's string is made for the call). */
  forEachIn (b: number, fn: (key: string, entry: Entry) => void): void {
    this.forEachRef(b, ref => fn(this.keyOf(ref), this.entryOf(ref, true)))
  }

  /** The keys of bucket b that hold a value not past its expiry at `now`, without reading entries out. */
  forEachLiveKey (b: number, now: number, fn: (key: string) => void): void {
    this.forEachRef(b, ref => {
      if (ref > 0 ? this.cells.isLive(ref - 1, now) : isLive(this.objectOf(ref).entry, now)) fn(this.keyOf(ref))
    })
  }

  /** Every key's reference in bucket b. `fn` may read the table, not change it (set() and delete() throw). */
  private forEachRef (b: number, fn: (ref: number) => void): void {
    const bucket = this.buckets[b]
    if (bucket === undefined) return
    this.walking++
    try {
      const slots = bucket.slots
      for (let i = 1; i < slots.length; i += 2) {
        const ref = slots[i] as number
        if (ref !== 0) fn(ref)
      }
    } finally {
      this.walking--
    }
  }

  private notWalking (): void {
    if (this.walking > 0) throw new Error('KeyTable: a key changed during a walk of its bucket')
  }

  /**
   * The key's reference (0: absent), remembered with its slot; `probed` counts
   * the slots it read. A probe past rekeyAt() turns its table to the keyed
   * placement and probes again: whether it was an insert's, or a lookup of a
   * key absent or present (keys made to have consecutive first slots build a
   * long run in which every insert reads one slot, and only a lookup that
   * starts at the run's head reads it all). Not during a walk of the bucket,
   * whose slots would move under it: the next lookup after the walk does it.
   */
  private lookUp (h: number, key: string): number {
    if (key === this.lastKey && h === this.lastHash) return this.lastRef
    this.lastKey = key
    this.lastHash = h
    const bucket = this.buckets[h & (DIGEST_BUCKETS - 1)]
    if (bucket === undefined) {
      this.lastRef = 0
      this.probed = 0
      this.lastPlace = h
      this.lastIndex = -1
      return 0
    }
    this.probe(bucket, bucket.keyed ? this.keyedPlace(key) : h, key)
    if (!bucket.keyed && this.probed > this.rekeyAfter(bucket.mask + 1) && this.walking === 0) {
      this.rekey(bucket)
      this.probe(bucket, this.keyedPlace(key), key)
    }
    return this.lastRef
  }

  /** Finds the key by placement `p`: its slot, or the empty one ending its run (lastIndex), its reference (lastRef) and the slots read (probed). */
  private probe (bucket: Bucket, p: number, key: string): void {
    const { slots, mask } = bucket
    let i = home(p, mask)
    let probed = 1
    let found = 0
    for (;; probed++) {
      const ref = slots[i * 2 + 1] as number
      if (ref === 0) break
      if (slots[i * 2] === (p | 0) && (ref > 0 ? this.cells.holds(ref - 1, key) : this.objectOf(ref).key === key)) {
        found = ref
        break
      }
      i = (i + 1) & mask
    }
    this.lastPlace = p
    this.lastIndex = i
    this.lastRef = found
    this.probed = probed
  }

  /**
   * Reads what a lookup of the key (`h`: its keyHash) will: its first slot
   * and, when a slot of the first few holds its placement hash, that cell,
   * without comparing the key or changing anything (Store.warm). Not for a
   * table placed by the keyed hash (one under attack): the key's string would
   * be needed.
   */
  warm (h: number): number {
    const bucket = this.buckets[h & (DIGEST_BUCKETS - 1)]
    if (bucket === undefined || bucket.keyed) return 0
    const { slots, mask } = bucket
    let i = home(h, mask)
    for (let n = 0; n < WARM_SLOTS; n++) {
      const ref = slots[i * 2 + 1] as number
      if (ref === 0) return 0
      if (slots[i * 2] === (h | 0)) return ref > 0 ? this.cells.warm(ref - 1) : 0
      i = (i + 1) & mask
    }
    return 0
  }

  /**
   * Reads the key's first slot alone (Store.warm's pass before warm()): the
   * slots' misses for every key of a batch first, then, in warm(), the cells
   * they name, instead of one key's slot and then its cell. Not in a table
   * placed by the keyed hash, as warm().
   */
  warmSlot (h: number): number {
    const bucket = this.buckets[h & (DIGEST_BUCKETS - 1)]
    return bucket === undefined || bucket.keyed ? 0 : bucket.slots[home(h, bucket.mask) * 2 + 1] as number
  }

  /** Slots a lookup of the key reads (tests: keys made to share keyHash must not share a probe). */
  probeLength (h: number, key: string): number {
    this.lastKey = null
    this.lookUp(h, key)
    return this.probed
  }

  private keyedPlace (key: string): number {
    return this.placement === null ? halfSipHash13(key, this.sipKey[0], this.sipKey[1]) : this.placement(key)
  }

  /** From now on the bucket's keys go where the keyed hash puts them. */
  private rekey (bucket: Bucket): void {
    bucket.keyed = true
    this.rekeyed++
    this.rebuild(bucket, bucket.mask + 1, ref => this.keyedPlace(this.keyOf(ref)))
  }

  /** The first empty slot of a placement's probe (the key is known absent). */
  private emptySlot (bucket: Bucket, p: number): number {
    let i = home(p, bucket.mask)
    while (bucket.slots[i * 2 + 1] !== 0) i = (i + 1) & bucket.mask
    return i
  }

  /** Twice the slots, every key placed again. */
  private grow (bucket: Bucket): void {
    this.rebuild(bucket, (bucket.mask + 1) * 2)
  }

  /**
   * The bucket's keys placed again in a table of `size` slots, each by the
   * placement its slot held, or by `placeOf` its reference.
   */
  private rebuild (bucket: Bucket, size: number, placeOf?: (ref: number) => number): void {
    const old = bucket.slots
    bucket.slots = new Int32Array(size * 2)
    bucket.mask = size - 1
    for (let i = 0; i < old.length; i += 2) {
      const ref = old[i + 1] as number
      if (ref === 0) continue
      const p = placeOf === undefined ? old[i] as number : placeOf(ref)
      const at = this.emptySlot(bucket, p)
      bucket.slots[at * 2] = p
      bucket.slots[at * 2 + 1] = ref
    }
  }

  /** The key a reference names (a cell's is a string made for the call). */
  private keyOf (ref: number): string {
    return ref > 0 ? this.cells.keyOf(ref - 1) : this.objectOf(ref).key
  }

  /** The entry a reference names: the stored object, or one read out of the cell (its value only if `withValue`). */
  private entryOf (ref: number, withValue: boolean): Entry {
    return ref > 0 ? this.cells.read(ref - 1, withValue) : this.objectOf(ref).entry
  }

  private newObject (key: string, entry: Entry): number {
    const held = new KeyedEntry(key, entry)
    const index = this.freeObjects.pop() ?? this.objects.length
    this.objects[index] = held
    return -1 - index
  }

  private freeObject (ref: number): void {
    this.objects[-1 - ref] = undefined
    this.freeObjects.push(-1 - ref)
  }

  private objectOf (ref: number): KeyedEntry {
    return this.objects[-1 - ref] as KeyedEntry
  }
}
