import { successor, type HybridClock, type Timestamp } from './clock.js'
import { fieldKeyHash, type Digest } from './digest.js'
import { compareVersions, HASH_VALUE, type Entry, type Version } from './entry.js'
import { addMember, collectField, cutField, expireField, fieldBytes, incrementField, joinField, newestInField, newestWrite, newHash, ownFieldContribution, present, removeField, sameField, setField, type Field, type HashState } from './hash.js'
import { addInPlace, type Contribution } from './counter.js'
import type { Int } from './numbers.js'
import type { TombstoneLog, TombstoneVerdict } from './tombstones.js'

// The store's side of hashes (PROTOCOL.md §Hashes, DESIGN.md §Invariants G7):
// local writes change the fields they name in place, replacing those fields'
// parts of the digest alone, and tell the listeners which fields changed, so
// replication and the log carry those fields, not the hash. Merges join the
// fields one by one. Store owns the keys; it hands this class what it needs.

/** What HashKeys needs of the Store (its private parts, passed as closures). */
export interface KeyAccess {
  readonly digest: Digest
  readonly tombstoneLog: TombstoneLog
  readonly clock: HybridClock
  nodeId: () => string
  keepTombstones: () => boolean
  now: () => number
  /** The stored entry, tombstones and expired values included. */
  slot: (h: number, key: string) => Entry | undefined
  /** Store.put: stores (or drops, for a tombstone nobody needs) the entry; counts, expiry set, tombstone queue. */
  put: (key: string, entry: Entry, previous: Entry | undefined, h: number) => boolean
  /** An expired entry reclaimed (Store.reclaim). */
  reclaim: (key: string, entry: Entry) => void
  /** Tells the write listeners; `fields`: the hash fields that changed; `unseen`: no client would see the change (WriteListener). */
  notify: (key: string, entry: Entry, local: boolean, fields: readonly string[], unseen?: boolean) => void
}

type HashEntry = Entry & { hash: HashState }

export function isHash (e: Entry | undefined): e is HashEntry {
  return e?.hash !== undefined
}

/** The entry if it is a hash (`set` false) or a set (true) — the one a write of that kind goes to — else undefined. */
function ofKind (e: Entry | undefined, set: boolean): HashEntry | undefined {
  return isHash(e) && e.hash.set === set ? e : undefined
}

function newer (a: Version | null, b: Version | null): Version | null {
  if (a === null) return b
  if (b === null) return a
  return compareVersions(a, b) >= 0 ? a : b
}

function versionOf (v: Version): Version {
  return { wall: v.wall, logical: v.logical, node: v.node }
}

/**
 * The names one write changed, each once, in order: a list, looked through
 * while it is short (one or a few fields, nearly every HSET and SADD), with a
 * Set beside it once it is long. A Set and its copy into a list for the
 * listeners cost more than the write of one field.
 */
class Changed {
  readonly names: string[] = []
  private index: Set<string> | null = null

  has (name: string): boolean {
    if (this.index !== null) return this.index.has(name)
    for (let i = 0; i < this.names.length; i++) if (this.names[i] === name) return true
    return false
  }

  /** Adds a name not in yet (has() said so). */
  add (name: string): void {
    this.names.push(name)
    if (this.index !== null) this.index.add(name)
    else if (this.names.length > CHANGED_SCAN_MAX) this.index = new Set(this.names)
  }
}

/** Names Changed looks through before it keeps a Set. */
const CHANGED_SCAN_MAX = 8

export class HashKeys {
  constructor (private readonly s: KeyAccess) {}

  /** The key's entry as stored, an expired value reclaimed first. */
  private current (key: string, h: number): Entry | undefined {
    const e = this.s.slot(h, key)
    if (e !== undefined && e.value !== null && e.expiresAt !== 0 && e.expiresAt <= this.s.now()) {
      this.s.reclaim(key, e)
      return this.s.slot(h, key)
    }
    return e
  }

  /** A version for a local write, above `after` (what it replaces) even if that is ahead of our clock. */
  private stamp (after?: Timestamp): Version {
    const ts = this.s.clock.tick()
    if (after !== undefined) {
      // Read here, not in compareTimestamps: its reads see every kind of object, too many for V8 to read them fast there.
      const wall = after.wall
      const logical = after.logical
      if (wall > ts.wall || (wall === ts.wall && logical >= ts.logical)) {
        const next = successor(after)
        return { wall: next.wall, logical: next.logical, node: this.s.nodeId() }
      }
    }
    return { wall: ts.wall, logical: ts.logical, node: this.s.nodeId() }
  }

  /**
   * The key's hash (or set) entry, made if the key holds none: a new hash
   * replaces a string, counter or tombstone as a write of the key as a whole
   * (its version is the key's from then on, PROTOCOL.md §Hashes, one key, two
   * types). Over a deleted set (or hash, for a set) the newest write it holds
   * is what the new one must outrank, and its cut (PROTOCOL.md §Sets).
   */
  private hashEntry (key: string, h: number, current: Entry | undefined, set: boolean): HashEntry {
    const own = ofKind(current, set)
    if (own !== undefined) return own
    const replaced = current === undefined ? null : isHash(current) ? newer(newestWrite(current, current.hash), current.hash.cut) : versionOf(current)
    const v = this.stamp(replaced ?? undefined)
    // Stored as a value at once (the write adds a present field); settle() corrects the counts if not.
    // What the key held is below every field this hash will have: its version is the cut.
    const entry: HashEntry = { value: HASH_VALUE, expiresAt: 0, wall: v.wall, logical: v.logical, node: v.node, hash: newHash(replaced, set) }
    this.s.digest.change(h, current, entry)
    this.s.put(key, entry, current, h)
    return entry
  }

  /**
   * Replaces field `name`'s record (undefined: none) and its part of the digest
   * (`h` null: an entry not in the digest yet), keeping `live`.
   */
  private changeField (h: number | null, entry: HashEntry, name: string, old: Field | undefined, next: Field | undefined, toEnd: boolean): void {
    const hash = entry.hash
    if (old !== undefined) {
      if (h !== null) this.s.digest.toggleField(h, name, old)
      if (present(old)) hash.live--
    }
    if (next === undefined) {
      hash.fields.delete(name)
      return
    }
    if (h !== null) this.s.digest.toggleField(h, name, next)
    if (present(next)) hash.live++
    // A field added again goes last, as in Redis (HGETALL shows insertion order).
    if (toEnd && old !== undefined && !present(old)) hash.fields.delete(name)
    hash.fields.set(name, next)
  }

  /**
   * An increment of field `name` by this node at `ts` (SADD, HINCRBY): into
   * the record's own contribution in place when it has one (a present general
   * record, ownFieldContribution), else in a new record (incrementField).
   * Returns the field's record.
   */
  private incrementOne (h: number, entry: HashEntry, name: string, old: Field | undefined, wasPresent: boolean, ts: Version, delta: Int, fdelta: number): Field {
    const node = this.s.nodeId()
    const mine = old !== undefined && wasPresent ? ownFieldContribution(old, node) : undefined
    if (old === undefined || mine === undefined) {
      const next = incrementField(old, node, ts, delta, fdelta)
      this.changeField(h, entry, name, old, next, true)
      return next
    }
    this.incrementInPlace(h, name, mine, ts, delta, fdelta)
    return old
  }

  /**
   * Adds an increment to a present field's own contribution in place: no new
   * record to store (a second lookup in the field map, and old-generation
   * garbage once the hash is large), and that contribution's part of the
   * digest is replaced, as changeField would replace the field's. It stays
   * present, so `live` holds.
   */
  private incrementInPlace (h: number, name: string, mine: Contribution, ts: Timestamp, delta: Int, fdelta: number): void {
    const fh = fieldKeyHash(h, name)
    this.s.digest.toggleFieldContribution(h, fh, mine)
    addInPlace(mine, ts, delta, fdelta)
    this.s.digest.toggleFieldContribution(h, fh, mine)
  }

  /** Stores the entry again (same object) so counts, the expiry set and the tombstone queue follow its new value. */
  private settle (key: string, h: number, entry: HashEntry, was: Entry): void {
    entry.value = entry.hash.live > 0 ? HASH_VALUE : null
    if (!this.s.put(key, entry, was, h)) this.s.digest.change(h, entry, undefined) // a hash tombstone nobody needs
  }

  /** The entry before a change, as put() compares: the bucket holds the same object. */
  private snapshot (entry: HashEntry): Entry {
    return { value: entry.value, expiresAt: entry.expiresAt, wall: entry.wall, logical: entry.logical, node: entry.node }
  }

  /** Sets the key's version (and expiry): a write of the key as a whole. Its part of the digest changes. */
  private setMeta (h: number, entry: HashEntry, v: Version, expiresAt: number): void {
    this.s.digest.change(h, versionOf(entry), v)
    entry.wall = v.wall
    entry.logical = v.logical
    entry.node = v.node
    entry.expiresAt = expiresAt
  }

  /** HSET/HMSET/HSETNX: the pairs written (the last of a repeated field wins); how many fields were new. */
  set (key: string, h: number, pairs: ReadonlyArray<readonly [string, Buffer]>): number {
    const entry = this.hashEntry(key, h, this.current(key, h), false)
    const was = this.snapshot(entry)
    let added = 0
    const changed = new Changed()
    for (const [name, value] of pairs) {
      const old = entry.hash.fields.get(name)
      if (old === undefined || !present(old)) added++
      this.changeField(h, entry, name, old, setField(old, value, this.stamp(old ?? entry.hash.cut ?? undefined)), true)
      if (!changed.has(name)) changed.add(name)
    }
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, changed.names)
    return added
  }

  /**
   * SADD: adds each member, as this node's add (PROTOCOL.md §Sets, add wins);
   * how many were not present. A member named twice is added once. One SADD is
   * one write: its adds share a version, as HDEL's removals share a stamp.
   */
  add (key: string, h: number, names: Iterable<string>): number {
    const entry = this.hashEntry(key, h, this.current(key, h), true)
    const was = this.snapshot(entry)
    let added = 0
    const changed = new Changed()
    const node = this.s.nodeId()
    const stamp = this.stamp(entry.hash.cut ?? undefined)
    // The record of a member nothing was held of is the same for every such member of this
    // SADD: one object serves them all (a OneAdd is never changed in place: an add to it
    // makes a general record), so such a member costs its name and its slot in the map.
    let fresh: Field | undefined
    for (const name of names) {
      if (changed.has(name)) continue
      const old = entry.hash.fields.get(name)
      const wasPresent = old !== undefined && present(old)
      if (!wasPresent) added++
      if (old === undefined) this.changeField(h, entry, name, old, (fresh ??= addMember(undefined, node, stamp)), true)
      else this.incrementOne(h, entry, name, old, wasPresent, stamp, 1, 0)
      changed.add(name)
    }
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, changed.names, added === 0 && was.value !== null)
    return added
  }

  /**
   * HDEL: removes the named fields present, as this node holds them (PROTOCOL.md
   * §Hashes, observed-remove); how many. A hash left empty is a deleted key:
   * its expiry goes too, by a write of the key as a whole.
   */
  remove (key: string, h: number, names: Iterable<string>): number {
    const entry = this.current(key, h)
    if (!isHash(entry) || entry.value === null) return 0
    const was = this.snapshot(entry)
    const stamp = this.stamp()
    const changed: string[] = []
    for (const name of names) {
      const f = entry.hash.fields.get(name)
      if (f === undefined || !present(f)) continue
      this.removeOne(key, h, entry, name, f, stamp)
      changed.push(name)
    }
    if (changed.length === 0) return 0
    if (entry.hash.live === 0 && entry.expiresAt !== 0) this.setMeta(h, entry, this.stamp(entry), 0)
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, changed)
    this.purge(key, h, entry, changed)
    return changed.length
  }

  private removeOne (key: string, h: number, entry: HashEntry, name: string, f: Field, stamp: Version): void {
    if (this.s.keepTombstones()) this.s.tombstoneLog.add(key, stamp, name)
    this.changeField(h, entry, name, f, removeField(f, stamp), false)
  }

  /**
   * A node with no peer keeps no removal (Store.keepTombstones): once the
   * listeners have logged the removals, the records go.
   */
  private purge (key: string, h: number, entry: HashEntry, names: readonly string[]): void {
    if (this.s.keepTombstones()) return
    const stored = this.s.slot(h, key) === entry // else settle() dropped it from the store and the digest already
    for (const name of names) {
      const f = entry.hash.fields.get(name)
      if (f?.removed != null) this.changeField(stored ? h : null, entry, name, f, collectField(f), false)
    }
  }

  /** DEL (and FLUSHALL) of a live hash: every field present is removed, as by HDEL. */
  deleteAll (key: string, h: number, entry: HashEntry): void {
    const was = this.snapshot(entry)
    const stamp = this.stamp(entry)
    const changed: string[] = []
    for (const [name, f] of [...entry.hash.fields]) {
      if (!present(f)) continue
      this.removeOne(key, h, entry, name, f, stamp)
      changed.push(name)
    }
    if (entry.expiresAt !== 0) this.setMeta(h, entry, stamp, 0)
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, changed)
    this.purge(key, h, entry, changed)
  }

  /** EXPIRE/PERSIST on a live hash: a write of the key as a whole, no field changes. */
  setExpiry (key: string, h: number, entry: HashEntry, expiresAt: number): void {
    const was = this.snapshot(entry)
    this.setMeta(h, entry, this.stamp(entry), expiresAt)
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, [])
  }

  /**
   * HINCRBY/HINCRBYFLOAT: adds to this node's contribution to the field.
   * `check` sees the field's value first (null when absent) and throws to refuse.
   * Returns the field's new value.
   */
  increment (key: string, h: number, name: string, delta: Int, fdelta: number, check: (value: Buffer | null) => void): Buffer {
    const current = this.current(key, h)
    // The field as the entry this write goes to holds it (hashEntry): none of a deleted set's.
    const old = ofKind(current, false)?.hash.fields.get(name)
    check(old === undefined ? null : fieldBytes(old))
    const entry = this.hashEntry(key, h, current, false)
    const was = this.snapshot(entry)
    const next = this.incrementOne(h, entry, name, old, old !== undefined && present(old), this.stamp(entry.hash.cut ?? undefined), delta, fdelta)
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, true, [name])
    return fieldBytes(next) as Buffer
  }

  /**
   * The hash's expiry has passed (Store.reclaim): what was written before it
   * goes (hash.ts expireField), the key's version stays, and the entry has no
   * expiry left. Every node computes the same; nobody is told.
   */
  expire (key: string, h: number, entry: HashEntry): void {
    const was = this.snapshot(entry)
    this.expireFields(h, entry)
    this.settle(key, h, entry, was)
  }

  /**
   * The join of a peer's hash state (the whole hash, or the fields a write
   * changed) with the key here (PROTOCOL.md §Hashes). Against a string, a
   * counter or a tombstone, that write's version is a cut: the hash keeps the
   * fields written after it, and takes the key if any is left. Returns whether
   * anything changed.
   */
  merge (key: string, h: number, current: Entry | undefined, incoming: Entry & { hash: HashState }, refuseCollectable: boolean): boolean {
    for (const f of incoming.hash.fields.values()) this.s.clock.observe(newestInField(f))
    // A hash meets a set (PROTOCOL.md §Sets, one key, two types): the one holding
    // the newer write keeps the key, cut at the other's newest write. One whose cut
    // already covers the other's newest write has beaten that state before (its own
    // newest write may have been collected down to that cut): it keeps the key.
    let replaced: Version | null = current === undefined ? null : versionOf(current)
    let otherKindLost = false // the key's hash or set lost to the incoming one: it goes, even for nothing live
    if (isHash(current) && current.hash.set !== incoming.hash.set) {
      const ours = newestWrite(current, current.hash)
      const theirs = newestWrite(incoming, incoming.hash)
      const oursBeat = current.hash.cut !== null && compareVersions(current.hash.cut, theirs) >= 0
      const theirsBeat = incoming.hash.cut !== null && compareVersions(incoming.hash.cut, ours) >= 0
      if (oursBeat !== theirsBeat ? oursBeat : compareVersions(theirs, ours) < 0) {
        const met = this.meetOther(key, h, current, theirs)
        if (met !== 'replace') return met
      } else {
        otherKindLost = true
      }
      replaced = newer(ours, current.hash.cut)
    }
    if (!isHash(current) || current.hash.set !== incoming.hash.set) {
      // Built aside, then stored and added to the digest whole.
      const cut = newer(incoming.hash.cut, replaced)
      const entry: HashEntry = { value: null, expiresAt: incoming.expiresAt, wall: incoming.wall, logical: incoming.logical, node: incoming.node, hash: newHash(cut, incoming.hash.set) }
      const changed = this.joinFields(key, null, entry, incoming.hash)
      const alive = this.cutMeta(null, entry)
      if (entry.expiresAt !== 0 && entry.expiresAt <= this.s.now()) this.expireFields(null, entry)
      if (current !== undefined && !otherKindLost && entry.hash.fields.size === 0 && !alive) return false // all of it older than what the key holds
      if (current === undefined && entry.hash.fields.size === 0 && refuseCollectable && this.s.keepTombstones() &&
        this.s.tombstoneLog.isCollectable(entry.node, entry.wall, entry.logical)) return false
      entry.value = entry.hash.live > 0 ? HASH_VALUE : null
      this.s.digest.change(h, current, this.s.put(key, entry, current, h) ? entry : undefined)
      this.s.notify(key, entry, false, changed)
      return true
    }
    const entry = current
    const was = this.snapshot(entry)
    const cutMoved = incoming.hash.cut !== null && this.raiseCut(h, entry, incoming.hash.cut)
    const changed = this.joinFields(key, h, entry, incoming.hash)
    let meta = false
    const order = compareVersions(incoming, entry)
    if (order > 0) {
      this.setMeta(h, entry, versionOf(incoming), incoming.expiresAt)
      meta = true
    } else if (order === 0 && entry.expiresAt === 0 && incoming.expiresAt !== 0) {
      entry.expiresAt = incoming.expiresAt // one write's expiry, reclaimed here already: it applies again below
    }
    this.cutMeta(h, entry)
    // An expiry applied again (a copy of the write that set it) may take fields away here too.
    const expired = entry.expiresAt !== 0 && entry.expiresAt <= this.s.now() && this.expireFields(h, entry)
    if (changed.length === 0 && !meta && !cutMoved && !expired && was.expiresAt === entry.expiresAt) return false
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, false, changed)
    return true
  }

  /**
   * A string, counter or tombstone from a peer meets the hash here (PROTOCOL.md
   * §Hashes, one key, two types): its version becomes the cut. If a field
   * written after it is left, the hash keeps the key (true: changed; false: the
   * write was older than a cut already met); else 'replace': the caller stores
   * the write in the hash's place.
   */
  meetOther (key: string, h: number, entry: HashEntry, incoming: Version): boolean | 'replace' {
    if (entry.hash.cut !== null && compareVersions(incoming, entry.hash.cut) <= 0) return false
    const was = this.snapshot(entry)
    this.raiseCut(h, entry, incoming)
    const alive = this.cutMeta(h, entry)
    if (entry.hash.fields.size === 0 && !alive) return 'replace'
    this.settle(key, h, entry, was)
    this.s.notify(key, entry, false, [])
    return true
  }

  /**
   * The key version and expiry are a part of the hash like its fields: at or
   * below the cut, they were replaced with the rest (the key version becomes
   * the cut, without expiry). Whether the key version is above the cut.
   */
  private cutMeta (h: number | null, entry: HashEntry): boolean {
    const cut = entry.hash.cut
    if (cut === null || compareVersions(entry, cut) > 0) return true
    if (compareVersions(entry, cut) < 0 || entry.expiresAt !== 0) {
      if (h !== null) this.setMeta(h, entry, cut, 0)
      else Object.assign(entry, versionOf(cut), { expiresAt: 0 })
    }
    return false
  }

  /** Raises the hash's cut to `cut` if it is greater, dropping what it covers; whether it moved. */
  private raiseCut (h: number | null, entry: HashEntry, cut: Version): boolean {
    const old = entry.hash.cut
    if (old !== null && compareVersions(cut, old) <= 0) return false
    if (h !== null) {
      if (old !== null) this.s.digest.toggleCut(h, old)
      this.s.digest.toggleCut(h, cut)
    }
    entry.hash.cut = versionOf(cut)
    for (const [name, f] of [...entry.hash.fields]) {
      const next = cutField(f, cut)
      if (next !== f) this.changeField(h, entry, name, f, next, false)
    }
    return true
  }

  /** Joins each incoming field into the entry's; the names of those that changed. */
  private joinFields (key: string, h: number | null, entry: HashEntry, incoming: HashState): string[] {
    const changed: string[] = []
    const log = this.s.tombstoneLog
    for (const [name, theirs] of incoming.fields) {
      const old = entry.hash.fields.get(name)
      if (old !== undefined && sameField(old, theirs)) continue // most of a whole hash sent by a round: nothing to do
      let next: Field | undefined = old === undefined ? theirs : joinField(old, theirs)
      // What a cut met here covers goes (the parts held here already passed it).
      if (entry.hash.cut !== null) next = cutField(next, entry.hash.cut)
      // A removal every member holds (or one nobody needs) goes at once (PROTOCOL.md §Hashes, collection).
      const r = next?.removed ?? null
      if (next !== undefined && r !== null && (!this.s.keepTombstones() || log.isCollectable(r.node, r.wall, r.logical))) next = collectField(next)
      if (next === undefined ? old === undefined : old !== undefined && sameField(old, next)) continue
      if (next?.removed != null && (old?.removed == null || compareVersions(old.removed, next.removed) !== 0)) log.add(key, next.removed, name)
      this.changeField(h, entry, name, old, next, false)
      changed.push(name)
    }
    return changed
  }

  /** The expiry of a merged hash has passed: as expire() (`h` null: an entry not in the digest yet). Whether a field changed. */
  private expireFields (h: number | null, entry: HashEntry): boolean {
    const at = entry.expiresAt
    let changed = false
    for (const [name, f] of [...entry.hash.fields]) {
      const next = expireField(f, at)
      if (next === f) continue
      this.changeField(h, entry, name, f, next, false)
      changed = true
    }
    entry.expiresAt = 0
    return changed
  }

  /**
   * Collection of a field's removal (TombstoneLog): once its stamp is stable
   * for the grace, the record goes (and what its marks saw). A hash left with
   * no field and no value is a tombstone, queued to go the same way.
   */
  collectRemoval (key: string, h: number, name: string, stamp: Version): TombstoneVerdict {
    const entry = this.s.slot(h, key)
    if (!isHash(entry)) return 'stale'
    const f = entry.hash.fields.get(name)
    if (f?.removed == null || compareVersions(f.removed, stamp) !== 0) return 'stale'
    if (!this.s.tombstoneLog.isCollectable(stamp.node, stamp.wall, stamp.logical)) return 'keep'
    this.changeField(h, entry, name, f, collectField(f), false)
    if (entry.hash.fields.size === 0 && entry.value === null) this.s.tombstoneLog.add(key, entry)
    return 'collected'
  }
}
