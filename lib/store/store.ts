import { compareTimestamps, HybridClock, successor, type Timestamp } from './clock.js'
import { Digest, DIGEST_BUCKETS, keyHash, keyHashOfBytes, leafOf } from './digest.js'
import type { Int } from './numbers.js'
import { addInPlace, collect, expire, increment, isPlain, join, newestContribution, plainState, ownContribution, rebase, sameState, valueInto, valueOf, type CounterState, type Side } from './counter.js'
import { bufferOf, SMALL_VALUE_MAX, storedBytes, type Bytes } from './bytes.js'
import { compareVersions, isExpired, isLive, NO_BASE, type Entry, type Version } from './entry.js'
import { globMatch } from './glob.js'
import { HashKeys, isHash } from './hash-keys.js'
import { newestInHash } from './hash.js'
import { KeyTable } from './key-table.js'
import { TombstoneLog, type TombstoneVerdict } from './tombstones.js'

/** Longest argument warm() hashes: a longer key's entry is an object, whose lookup it does not warm. */
const WARM_KEY_MAX = 248

/** Number of key buckets. SCAN cursors are bucket indexes; digests are kept per bucket. */
export const BUCKETS = DIGEST_BUCKETS

/**
 * Called after every change to a key: `local` for writes made here, false for
 * merged ones. The entry belongs to the store and may change with the next
 * write, and its value may be the writer's own bytes (a view into a network
 * buffer, for a key about to go into a cell): a listener encodes or copies what it
 * needs before it returns.
 * `fields`: for a hash, the fields that changed (the key's version and expiry
 * always count as changed); undefined when the whole entry did. `unseen`: the
 * write changed nothing a client reads (an SADD of members already present,
 * PROTOCOL.md §Sets): it replicates and is logged, but WATCH does not count it.
 */
export type WriteListener = (key: string, entry: Entry, local: boolean, fields?: readonly string[], unseen?: boolean) => void

export interface StoreOptions {
  /** This node's id: the tie-breaker in every version it writes. */
  nodeId: string
  /** The hybrid logical clock that stamps local writes. Default: one on Date.now. */
  clock?: HybridClock
  /**
   * Keep tombstones for deleted and expired keys. A node that has never had a
   * peer has no one to tell about a delete, so it may drop them. Default true.
   */
  keepTombstones?: boolean
  /** A tombstone goes only once it has been stable this long, ms (PROTOCOL.md §Tombstones). Default 10 000. */
  tombstoneGraceMs?: number
}

export interface StoreStats {
  expiredKeys: number
  tombstonesCollected: number
  /** `read`s that found a live value (INFO keyspace_hits). */
  keyspaceHits: number
  /** `read`s that found none (INFO keyspace_misses). */
  keyspaceMisses: number
}

/** FNV-1a over the key's bytes (keys are latin1 strings: one char, one byte), modulo BUCKETS. */
export function bucketOf (key: string): number {
  return keyHash(key) & (BUCKETS - 1)
}

/**
 * The data. The only code that changes keys: local writes get a new version
 * from the clock; remote ones are merged by version (last writer wins).
 */
export class Store {
  /** Set once at start-up, before any write, to the id kept in the data directory. */
  nodeId: string
  readonly clock: HybridClock
  keepTombstones: boolean
  readonly stats: StoreStats = { expiredKeys: 0, tombstonesCollected: 0, keyspaceHits: 0, keyspaceMisses: 0 }
  /** Hash tree over every entry's key and version, tombstones included (PROTOCOL.md §Digests). */
  readonly digest = new Digest()
  readonly tombstoneLog: TombstoneLog

  /** Every key's entry: objects, or cells for small plain values, tombstones and counters of one contribution (key-table.ts, cells.ts). */
  private readonly table = new KeyTable()
  /** warm()'s key hashes, between its passes. */
  private readonly warmHashes: number[] = []
  /** Entries holding a value (expired ones included until they are reclaimed). */
  private valueCount = 0
  private tombstoneCount = 0
  /** Keys whose value has an expiry: what the active expiry cycle walks. */
  private readonly expiring = new Set<string>()
  private expiryCursor: Iterator<string> | null = null
  private readonly listeners: WriteListener[] = []
  /** Hash keys' writes, merges, expiry and collection (hash-keys.ts). */
  private readonly hashes: HashKeys

  constructor (options: StoreOptions) {
    this.nodeId = options.nodeId
    this.clock = options.clock ?? new HybridClock()
    this.keepTombstones = options.keepTombstones ?? true
    // The grace runs on the store's physical time, so whoever injects the clock controls it too.
    this.tombstoneLog = new TombstoneLog(options.tombstoneGraceMs, () => this.clock.physicalNow())
    this.hashes = new HashKeys({
      digest: this.digest,
      tombstoneLog: this.tombstoneLog,
      clock: this.clock,
      nodeId: () => this.nodeId,
      keepTombstones: () => this.keepTombstones,
      now: () => this.now(),
      slot: (h, key) => this.slot(h, key),
      put: (key, entry, previous, h) => this.put(key, entry, previous, h),
      reclaim: (key, entry) => this.reclaim(key, entry),
      notify: (key, entry, local, fields, unseen) => { for (const listener of this.listeners) listener(key, entry, local, fields, unseen) }
    })
  }

  onWrite (listener: WriteListener): void {
    this.listeners.push(listener)
  }

  now (): number {
    return this.clock.physicalNow()
  }

  /** Keys holding a value (Redis's DBSIZE: expired keys not yet reclaimed count too). */
  get size (): number {
    return this.valueCount
  }

  get tombstones (): number {
    return this.tombstoneCount
  }

  /** Keys (values and tombstones) kept in cells (DESIGN.md §Memory per key; tests check that removed keys give theirs back). */
  get cellsInUse (): number {
    return this.table.cellsInUse
  }

  get keysWithExpiry (): number {
    return this.expiring.size
  }

  /** The live entry for key, or undefined. Reclaims it if it has expired. */
  get (key: string): Entry | undefined {
    const entry = this.slot(keyHash(key), key)
    if (entry === undefined || entry.value === null) return undefined
    if (entry.expiresAt !== 0 && isExpired(entry, this.now())) { // read the clock only when it matters
      this.reclaim(key, entry)
      // A hash keeps the fields written after its expiry time (PROTOCOL.md §Hashes), in the same entry.
      return entry.hash !== undefined && entry.value !== null && this.slot(keyHash(key), key) === entry ? entry : undefined
    }
    return entry
  }

  /**
   * `get` for a command that reads the key (GET, EXISTS, TTL, ...), counted as
   * a keyspace hit or miss; writes that look first use `get` (Redis's
   * lookupKeyRead and lookupKeyWrite, PROTOCOL.md §INFO).
   */
  read (key: string): Entry | undefined {
    const entry = this.get(key)
    if (entry === undefined) this.stats.keyspaceMisses++
    else this.stats.keyspaceHits++
    return entry
  }

  /** The key's entry, tombstones and expired values included (for replication and tests); a cell's read out. */
  peek (key: string): Entry | undefined {
    return this.slot(keyHash(key), key)
  }

  /**
   * A local write. The value is copied: callers may pass views into network
   * buffers. Returns the entry written, to be read at once (as a listener reads it).
   */
  set (key: string, value: Bytes, expiresAt = 0): Entry {
    return this.writeLocal(key, value, expiresAt, true)
  }

  /**
   * Reads, changing nothing, what the next commands on these keys (given as
   * bytes) will: each key's first slot, its cell and its digest leaf. A
   * command's lookups are one cache miss after another (the slot, then the
   * cell it names, then the leaf), at hundreds of nanoseconds each once the
   * keys outgrow the cache; read here for a batch of keys at once, the misses
   * of different keys overlap. The connection calls it for the commands it
   * has received and not yet run (Redis 8 prefetches a batch's keys too).
   * Returns a number read, so the reads are not optimized away.
   */
  warm (keys: readonly Buffer[]): number {
    const hashes = this.warmHashes
    let sink = 0
    let n = 0
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as Buffer
      if (key.length > WARM_KEY_MAX) continue // not a key a cell holds, maybe not a key at all (ECHO's text): not worth a pass
      hashes[n++] = keyHashOfBytes(key)
    }
    // Passes of few instructions a key, so that the processor has many keys' reads in flight at once:
    // the leaves and slots first (they need no other read), then the cells the slots name.
    for (let k = 0; k < n; k++) {
      const h = hashes[k] as number
      sink ^= this.digest.warm(h) ^ this.table.warmSlot(h)
    }
    for (let k = 0; k < n; k++) sink ^= this.table.warm(hashes[k] as number)
    return sink
  }

  /** A local delete: leaves a tombstone with a new version. True when a live key was removed. */
  delete (key: string): boolean {
    const entry = this.get(key)
    if (entry === undefined) return false
    if (isHash(entry)) this.deleteHash(key, entry)
    else this.writeLocal(key, null, 0, false)
    return true
  }

  /** DEL of a hash removes the fields this node holds, and only those (PROTOCOL.md §Hashes). */
  private deleteHash (key: string, entry: Entry & { hash: NonNullable<Entry['hash']> }): void {
    const h = keyHash(key)
    this.hashes.deleteAll(key, h, entry)
  }

  /** HSET/HMSET: writes the pairs to the hash at key (made if missing); how many fields were new. The caller checks the type. */
  hset (key: string, pairs: ReadonlyArray<readonly [string, Buffer]>): number {
    const h = keyHash(key)
    return this.hashes.set(key, h, pairs)
  }

  /** SADD: adds the members to the set at key (made if missing); how many were new. The caller checks the type. */
  sadd (key: string, members: Iterable<string>): number {
    const h = keyHash(key)
    return this.hashes.add(key, h, members)
  }

  /** HDEL (and SREM, a set's members being its fields): removes the named fields present; how many. */
  hdel (key: string, fields: Iterable<string>): number {
    const h = keyHash(key)
    return this.hashes.remove(key, h, fields)
  }

  /**
   * HINCRBY/HINCRBYFLOAT: adds to this node's contribution to a field
   * (PROTOCOL.md §Hashes). `check` sees the field's value (null if absent) and
   * throws to refuse. Returns the field's new value.
   */
  hincrement (key: string, field: string, delta: Int, fdelta: number, check: (value: Buffer | null) => void): Buffer {
    const h = keyHash(key)
    return this.hashes.increment(key, h, field, delta, fdelta, check)
  }

  /** Changes a live key's expiry (0 removes it); an expiry in the past deletes the key. */
  setExpiry (key: string, expiresAt: number): boolean {
    const entry = this.get(key)
    if (entry === undefined) return false
    if (expiresAt !== 0 && expiresAt <= this.now()) return this.delete(key)
    if (isHash(entry)) {
      const h = keyHash(key)
      this.hashes.setExpiry(key, h, entry, expiresAt)
    } else {
      this.writeLocal(key, entry.value, expiresAt, false)
    }
    return true
  }

  /** Deletes every key (expired ones not yet reclaimed too); returns how many were live. */
  flushAll (): number {
    const now = this.now()
    const live: string[] = []
    const expired: Array<[string, Entry]> = []
    this.forEachEntry((key, entry) => {
      if (isLive(entry, now)) live.push(key)
      else if (entry.value !== null) expired.push([key, entry])
    })
    for (const [key, entry] of expired) this.reclaim(key, entry)
    for (const key of live) {
      const entry = this.peek(key)
      if (isHash(entry)) this.deleteHash(key, entry)
      else this.writeLocal(key, null, 0, false)
    }
    return live.length
  }

  /**
   * Applies an entry written elsewhere if its version is newer than ours
   * (PROTOCOL.md §Conflicts). Delivering the same entries in any order, any
   * number of times, leaves the same store. Returns whether it was applied.
   * `copy` false: the store may keep the value's bytes (a node loading a snapshot
   * hands over views into its read buffers rather than copying a million values).
   */
  merge (key: string, incoming: Entry, copy = true): boolean {
    return this.mergeEntry(key, incoming, copy, true)
  }

  /**
   * Recovery (FORMAT.md §Recovery): an entry from this node's own snapshot or
   * log, merged as by merge() (digest, tombstone queues and all), except that a
   * tombstone is always taken. A log is in arrival order, not version order, so
   * an older value of the key may come after its tombstone, and must lose to it;
   * collection (stable timestamps) drops the tombstone again
   * afterwards, as it did before the restart.
   */
  restore (key: string, incoming: Entry, copy: boolean): boolean {
    return this.mergeEntry(key, incoming, copy, false)
  }

  private mergeEntry (key: string, incoming: Entry, copy: boolean, refuseCollectable: boolean): boolean {
    this.clock.observe(incoming)
    const h = keyHash(key)
    let current = this.slot(h, key)
    // PROTOCOL.md §Hashes: a hash past its expiry loses the fields written before
    // it here first, as it did at a node that read it; a newer write merged into
    // it unexpired would carry those fields past their expiry, and back to others.
    if (isHash(current) && current.expiresAt !== 0 && isExpired(current, this.now())) {
      this.reclaim(key, current)
      current = this.slot(h, key)
    }
    // PROTOCOL.md §Hashes: fields join one by one; a write of another type cuts
    // the fields written before it, and takes the key if none is left.
    if (isHash(incoming)) return this.hashes.merge(key, h, current, incoming, refuseCollectable)
    if (isHash(current)) {
      const met = this.hashes.meetOther(key, h, current, incoming)
      if (met !== 'replace') return met
      this.unstore(key, h, current)
      current = undefined
    }
    if (incoming.counter !== undefined || current?.counter !== undefined) return this.mergeCounter(key, h, current, incoming, copy, refuseCollectable)
    if (current !== undefined && compareVersions(incoming, current) <= 0) return false
    // A tombstone we could already have collected is not taken back (PROTOCOL.md §Tombstones).
    if (refuseCollectable && current === undefined && this.keepTombstones && this.collectable(incoming)) return false
    this.install(key, h, current, incoming.value, copy, incoming.expiresAt, incoming, false)
    return true
  }

  /**
   * The join of a key's state here and a peer's, when either is a counter
   * (PROTOCOL.md §Counters): bases by version, contributions each at its latest.
   */
  private mergeCounter (key: string, h: number, current: Entry | undefined, incoming: Entry, copy: boolean,
    refuseCollectable: boolean): boolean {
    const newest = incoming.counter === undefined ? undefined : newestContribution(incoming.counter)
    if (newest !== undefined) this.clock.observe(newest)
    const now = this.now()
    const theirs = sideOf(incoming, now)
    if (copy && incoming.counter === undefined && theirs.state.base !== null) theirs.state = plainState(Buffer.from(theirs.state.base))
    const ours = current === undefined ? undefined : sideOf(current, now)
    const joined = ours === undefined ? theirs : join(ours, theirs)
    joined.state = this.collected(joined)
    if (ours === undefined) {
      // The same refusal as for a plain tombstone: what is left is one, and collectable.
      if (isPlain(joined.state) && joined.state.base === null && refuseCollectable && this.keepTombstones &&
        this.collectable({ value: null, expiresAt: 0, wall: joined.wall, logical: joined.logical, node: joined.node })) return false
    } else if (current !== undefined && compareVersions(joined, current) === 0 && joined.expiresAt === current.expiresAt &&
      sameState(joined.state, stateOf(current))) {
      return false
    }
    this.installState(key, h, current, joined, false)
    return true
  }

  /** The state without what its base makes collectable (PROTOCOL.md §Counters, collection). */
  private collected (side: Side): CounterState {
    if (isPlain(side.state) || !this.keepTombstones || !this.tombstoneLog.isCollectable(side.node, side.wall, side.logical)) return side.state
    return collect(side.state)
  }

  /**
   * Stores a key's state as an entry (a plain one when it has no contributions
   * left) and tells the listeners (`local` null: collection, nobody is told).
   * Counter entries are replaced, never changed in place.
   */
  private installState (key: string, h: number, previous: Entry | undefined, side: Side, local: boolean | null): Entry {
    const state = side.state
    const plain = isPlain(state)
    const value = plain ? state.base : valueOf(state)
    const expiresAt = state.base === null ? 0 : side.expiresAt
    // A counter's entry names `counter` in its literal: added afterwards, it would
    // live out of the object, one more cache miss on every INCR.
    const entry: Entry = plain
      ? { value, expiresAt, wall: side.wall, logical: side.logical, node: side.node }
      : { value, expiresAt, wall: side.wall, logical: side.logical, node: side.node, counter: state }
    this.digest.change(h, previous, this.put(key, entry, previous, h) ? entry : undefined)
    if (local !== null) for (const listener of this.listeners) listener(key, entry, local)
    return entry
  }

  /**
   * A local increment (INCRBY, INCRBYFLOAT): added to this node's contribution
   * to the key (PROTOCOL.md §Counters). `check` sees the value first (null when
   * the key does not exist), and the entry holding it (for its type), and
   * throws to refuse the increment: one lookup of the key for both. Returns
   * the stored entry.
   */
  increment (key: string, delta: Int, fdelta: number, check?: (value: Bytes | null, entry: Entry | undefined) => void): Entry {
    const h = keyHash(key)
    let previous = this.slot(h, key)
    if (previous !== undefined && previous.expiresAt !== 0 && previous.value !== null && isExpired(previous, this.now())) {
      this.reclaim(key, previous)
      previous = this.slot(h, key)
    }
    if (check !== undefined) {
      if (previous === undefined || previous.value === null) check(null, undefined)
      else check(previous.value, previous)
    }
    const counter = previous?.counter
    // Not over a tombstone: the increment makes the key live again, which put() must count.
    const mine = counter === undefined || previous?.value === null ? undefined : ownContribution(counter, this.nodeId)
    if (previous !== undefined && counter !== undefined && mine !== undefined) {
      // The common case, a counter incremented again here: its contribution
      // changes in place, so no entry or state becomes old-generation garbage
      // (see installState()), and the digest replaces that contribution's hash alone.
      // A counter read out of a cell is a copy: the cell takes the new numbers
      // (setContribution), or the table stores the entry again if they no longer fit one.
      this.digest.toggleContribution(h, mine)
      addInPlace(mine, this.clock.tick(), delta, fdelta)
      this.digest.toggleContribution(h, mine)
      previous.value = valueInto(counter, previous.value)
      if (!this.table.setContribution(h, key, mine)) this.table.set(h, key, previous)
      for (const listener of this.listeners) listener(key, previous, true)
      return previous
    }
    const now = this.now()
    let side: Side
    if (previous === undefined) {
      side = { wall: NO_BASE.wall, logical: NO_BASE.logical, node: NO_BASE.node, expiresAt: 0, state: plainState(null) } // no spread: it cost more than the rest of a new key
    } else if (isHash(previous)) {
      // Over a deleted hash: a counter is a new type for the key, so it needs a
      // key version above the hash's (PROTOCOL.md §Hashes, one key, two types).
      const ts = above(newestInHash(previous.hash), this.clock.tick())
      const v = compareTimestamps(previous, ts) >= 0 ? successor(previous) : ts
      side = { wall: v.wall, logical: v.logical, node: this.nodeId, expiresAt: 0, state: plainState(null) }
    } else {
      side = sideOf(previous, now)
    }
    side.state = increment(side.state, this.nodeId, this.clock.tick(), delta, fdelta)
    return this.installState(key, h, previous, side, true)
  }

  /**
   * A tombstone (or an expired value, one in waiting) that collectTombstones
   * would drop now: stable for the grace. The same
   * rule as collection, not mere stability: a node refusing a tombstone that
   * is stable but still in its grace would lack it while every node holding it
   * keeps it for up to the grace, so their digests would differ that long (and
   * it would not be there to beat an older value still in flight).
   */
  private collectable (e: Entry): boolean {
    if (e.value !== null && (e.expiresAt === 0 || !isExpired(e, this.now()))) return false
    return this.tombstoneLog.isCollectable(e.node, e.wall, e.logical)
  }

  /**
   * Node's writes up to `ts` are held by every member: its tombstones up to
   * there may go. `local`: this node worked it out alone (a writer that is gone).
   */
  setStable (node: string, ts: { wall: number, logical: number }, agoMs = 0, local = false): boolean {
    return this.tombstoneLog.setStable(node, ts, agoMs, local)
  }

  /**
   * Drops tombstones every member holds (stable for the grace), up to
   * `budget` of them (queue heads, never a walk of the store). Returns how many
   * queue entries were looked at: `budget` means there may be more.
   */
  collectTombstones (budget: number): number {
    return this.tombstoneLog.collect(budget, (key, wall, logical, node, field): TombstoneVerdict => {
      const h = keyHash(key)
      if (field !== undefined) return this.hashes.collectRemoval(key, h, field, { wall, logical, node })
      const entry = this.slot(h, key)
      if (entry === undefined || entry.wall !== wall || entry.logical !== logical || entry.node !== node) return 'stale'
      if (entry.value !== null && entry.counter === undefined) return 'stale'
      // A hash tombstone goes once its fields' removals have (each queued on its own).
      if (entry.hash !== undefined && entry.hash.fields.size > 0) return 'stale'
      if (!this.tombstoneLog.isCollectable(node, wall, logical)) return 'keep'
      if (entry.counter !== undefined) {
        // PROTOCOL.md §Counters: what the base saw goes. A tombstone left with
        // nothing else is queued again by put(), and collected on the next pop.
        const state = collect(entry.counter)
        if (state !== entry.counter) this.installState(key, h, entry, { ...entry, state }, null)
        return 'stale'
      }
      this.digest.change(h, entry, undefined)
      this.table.delete(h, key)
      this.tombstoneCount--
      this.stats.tombstonesCollected++
      return 'collected'
    })
  }

  /**
   * The entries of bucket b whose leaf is set in the 64-bit mask (`lo`: leaves
   * 0..31, `hi`: 32..63), tombstones included (anti-entropy, PROTOCOL.md §ENTRIES).
   */
  forEachInLeaves (b: number, lo: number, hi: number, fn: (key: string, entry: Entry) => void): void {
    this.table.forEachIn(b, (key, entry) => {
      const leaf = leafOf(keyHash(key))
      if (((leaf < 32 ? lo >>> leaf : hi >>> (leaf - 32)) & 1) === 1) fn(key, entry)
    })
  }

  /** Live keys matching a glob pattern. */
  keys (pattern: string): string[] {
    const now = this.now()
    const out: string[] = []
    const all = pattern === '*'
    for (let b = 0; b < BUCKETS; b++) this.table.forEachLiveKey(b, now, key => { if (all || globMatch(pattern, key)) out.push(key) })
    return out
  }

  /**
   * One SCAN step (PROTOCOL.md §SCAN): walks whole buckets from `cursor` until
   * at least `count` keys are found or about 10 × `count` keys were looked at.
   * Returns the next cursor (0 when done). A key present for the whole scan is
   * returned at least once.
   */
  scan (cursor: number, count: number, pattern: string | null, filter?: (entry: Entry) => boolean): { cursor: number, keys: string[] } {
    const now = this.now()
    const keys: string[] = []
    // Bounded work per call, matches or not (Redis bounds it the same way): a
    // pattern that rarely matches must not turn one SCAN into a walk of the store.
    const budget = Math.max(1, count) * 10
    let examined = 0
    let b = cursor
    for (; b < BUCKETS && keys.length < count && examined < budget; b++) {
      examined += this.table.bucketSize(b)
      this.table.forEachLiveKey(b, now, key => {
        if (pattern !== null && !globMatch(pattern, key)) return
        // A TYPE filter reads the entry: a second lookup, for SCAN ... TYPE alone.
        if (filter === undefined || filter(this.table.get(keyHash(key), key) as Entry)) keys.push(key)
      })
    }
    return { cursor: b >= BUCKETS ? 0 : b, keys }
  }

  /**
   * Active expiry, as Redis samples: looks at up to `budget` keys with an expiry
   * and reclaims the expired ones. Returns the fraction found expired, so the
   * caller can run another round when many are.
   */
  expireSome (budget: number): number {
    if (this.expiring.size === 0) return 0
    const now = this.now()
    let seen = 0
    let expired = 0
    this.expiryCursor ??= this.expiring.values()
    while (seen < budget) {
      const step = this.expiryCursor.next()
      if (step.done === true) {
        this.expiryCursor = null
        break
      }
      seen++
      const entry = this.peek(step.value)
      if (entry !== undefined && isExpired(entry, now)) {
        this.reclaim(step.value, entry)
        expired++
      }
    }
    return seen === 0 ? 0 : expired / seen
  }

  /** Every entry of one bucket, tombstones included (state transfer walks the store bucket by bucket). */
  forEachInBucket (bucket: number, fn: (key: string, entry: Entry) => void): void {
    this.table.forEachIn(bucket, fn)
  }

  forEachEntry (fn: (key: string, entry: Entry) => void): void {
    for (let b = 0; b < BUCKETS; b++) this.table.forEachIn(b, fn)
  }

  /** The key's entry (`h`: keyHash(key); KeyTable.get: a cell's is a fresh entry, and changing it changes nothing stored). */
  private slot (h: number, key: string): Entry | undefined {
    return this.table.get(h, key)
  }

  /** `copy`: the value is the caller's (a view into a network buffer), so the store takes a copy. */
  private writeLocal (key: string, value: Bytes | null, expiresAt: number, copy: boolean): Entry {
    const h = keyHash(key) // hashed once per write: this is the hot path of SET
    const previous = this.table.getForWrite(h, key) // the old value is replaced: a cell's is not read out
    let ts = this.clock.tick()
    // PROTOCOL.md §Versions: a write always outranks the version it replaces, even
    // one from a peer whose clock runs too far ahead for our clock to follow.
    if (previous !== undefined && compareTimestamps(previous, ts) >= 0) {
      ts = successor(previous)
    }
    if (isHash(previous)) ts = above(newestInHash(previous.hash), ts) // PROTOCOL.md §Hashes: over every field it replaces
    if (previous?.counter !== undefined) { // PROTOCOL.md §Counters: a new base that has seen every contribution here
      const base = value === null ? null : typeof value === 'string' ? bufferOf(value) : copy ? Buffer.from(value) : value
      const state = rebase(previous.counter, base)
      return this.installState(key, h, previous, { wall: ts.wall, logical: ts.logical, node: this.nodeId, expiresAt, state }, true)
    }
    return this.install(key, h, previous, value, copy, expiresAt, { wall: ts.wall, logical: ts.logical, node: this.nodeId }, true)
  }

  /**
   * Stores a new version of a key (local or merged) and tells the listeners.
   * A small plain value or a tombstone goes into a cell (put(), DESIGN.md
   * §Memory per key), the key's own cell when it has one of the size: written
   * in place, no second lookup and no garbage. A larger value is an object with
   * a Buffer of its own, and a new large value is written into that object in
   * place, into the old bytes when it has their length. Entries and values live
   * long, so new objects per write would be old-generation garbage, the costly
   * kind to collect. Hence the rule: nobody keeps an entry or a value past the
   * call that got it (replies and replication encode them at once). `copy`: the
   * value is the caller's (a view into a network buffer), so the store takes a copy.
   */
  private install (key: string, h: number, previous: Entry | undefined, value: Bytes | null, copy: boolean,
    expiresAt: number, version: Version, local: boolean): Entry {
    let entry: Entry
    // PROTOCOL.md §Digests: out with the old version's hash, in with the new one's.
    // Only a stored object holds a Buffer (a cell's entry is read out as a string), so previous is the store's own;
    // a plain one's is larger than a cell takes, as is the value that replaces it here.
    const old = previous?.value ?? null
    if (previous !== undefined && Buffer.isBuffer(old) && previous.hash === undefined && previous.counter === undefined && value !== null && value.length > SMALL_VALUE_MAX) {
      this.digest.change(h, previous, version) // before the in-place update overwrites previous's version
      if (expiresAt !== 0) this.expiring.add(key)
      else if (previous.expiresAt !== 0) this.expiring.delete(key)
      if (value === old) {
        // the same bytes (an expiry change: setExpiry)
      } else if (copy && typeof value !== 'string' && old.length === value.length) { // (old: over 128 bytes, never a shared integer's)
        value.copy(old)
      } else {
        previous.value = storedBytes(value, copy)
      }
      previous.expiresAt = expiresAt
      previous.wall = version.wall
      previous.logical = version.logical
      previous.node = version.node
      entry = previous
    } else {
      // A small value goes into its cell from the caller's bytes (put()): no copy of its own first.
      const stored = value === null ? null : value.length <= SMALL_VALUE_MAX ? value : storedBytes(value, copy)
      entry = { value: stored, expiresAt, wall: version.wall, logical: version.logical, node: version.node }
      this.digest.change(h, previous, this.put(key, entry, previous, h) ? entry : undefined)
    }
    for (const listener of this.listeners) listener(key, entry, local)
    return entry
  }

  /** An expired value becomes a tombstone with the same version: every node does the same. */
  private reclaim (key: string, entry: Entry): void {
    this.stats.expiredKeys++
    const h = keyHash(key)
    if (isHash(entry)) { // PROTOCOL.md §Hashes: what was written before the expiry goes
      this.hashes.expire(key, h, entry)
      return
    }
    if (entry.counter !== undefined) { // PROTOCOL.md §Counters: the base and the contributions it held go
      const state = expire(entry.counter, entry.expiresAt)
      const next: Entry = isPlain(state)
        ? { value: null, expiresAt: 0, wall: entry.wall, logical: entry.logical, node: entry.node }
        : { value: valueOf(state), expiresAt: 0, wall: entry.wall, logical: entry.logical, node: entry.node, counter: state }
      this.digest.change(h, entry, this.put(key, next, entry, h) ? next : undefined)
      return
    }
    // Same version, same hash: the digest changes only if the tombstone is not kept.
    if (!this.put(key, { ...entry, value: null, expiresAt: 0 }, entry, h)) this.digest.change(h, entry, undefined)
  }

  /** Takes the key's entry out of the store and the digest (a hash a write of another type replaces). */
  private unstore (key: string, h: number, entry: Entry): void {
    this.digest.change(h, entry, undefined)
    this.table.delete(h, key)
    if (entry.value === null) this.tombstoneCount--
    else this.valueCount--
    if (entry.expiresAt !== 0) this.expiring.delete(key)
  }

  /**
   * Stores (or, for a tombstone nobody needs, drops) the key's new entry;
   * whether it was stored. `previous`: the entry stored now (slot()'s, or
   * getForWrite()'s, whose value may be UNREAD: only its version, expiry and
   * whether it is a tombstone count here), if any.
   */
  private put (key: string, entry: Entry, previous: Entry | undefined, h: number): boolean {
    let stored = false
    if (previous !== undefined) {
      if (previous.value === null) this.tombstoneCount--
      else this.valueCount--
    }
    if (entry.value === null && !this.keepTombstones) {
      this.table.delete(h, key)
    } else {
      this.table.set(h, key, entry)
      stored = true
      if (entry.value === null) {
        this.tombstoneCount++
        this.tombstoneLog.add(key, entry)
      } else {
        this.valueCount++
        // A counter's base with marks is queued like a tombstone: once it is
        // stable, what it saw is collected (PROTOCOL.md §Counters). Once per base.
        if (entry.counter !== undefined && entry.counter.seen.length > 0 && (previous === undefined || compareVersions(previous, entry) !== 0)) {
          this.tombstoneLog.add(key, entry)
        }
      }
    }
    if (entry.value !== null && entry.expiresAt !== 0) this.expiring.add(key)
    else if (previous !== undefined && previous.expiresAt !== 0) this.expiring.delete(key)
    return stored
  }
}


/** `ts`, or just above `floor` when `floor` is not below it. */
function above (floor: Timestamp | undefined, ts: Timestamp): Timestamp {
  return floor !== undefined && compareTimestamps(floor, ts) >= 0 ? successor(floor) : ts
}

/** A key's state as the join sees it; a base that has expired by `now` is gone already. */
function sideOf (e: Entry, now: number): Side {
  const state = stateOf(e)
  if (e.expiresAt !== 0 && e.expiresAt <= now) return { wall: e.wall, logical: e.logical, node: e.node, expiresAt: 0, state: expire(state, e.expiresAt) }
  return { wall: e.wall, logical: e.logical, node: e.node, expiresAt: e.expiresAt, state }
}

/** A key's counter state; a plain value's is its bytes as the base. */
function stateOf (e: Entry): CounterState {
  return e.counter ?? plainState(e.value === null ? null : bufferOf(e.value))
}
