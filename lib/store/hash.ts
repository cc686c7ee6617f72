import type { Bytes } from './bytes.js'
import { compareTimestamps, compareVersions, type Timestamp, type Version } from './clock.js'
import { collect, exists, increment, join, onlyContribution, ownContribution, rebase, soleContribution, valueOf, type Contribution, type CounterState, type Side } from './counter.js'
import type { Int } from './numbers.js'
import { NodeTable, packParts, packedLogical, packedNode, packedValue, packedWall } from './packed.js'

// PROTOCOL.md §Hashes. A hash key holds one record per field, each merged on
// its own. A field is a counter's state (counter.ts) with the version of its
// base: HSET writes a new base that has seen every contribution held (rebase),
// HINCRBY/HINCRBYFLOAT add to this node's contribution, so concurrent HSETs of
// one field resolve by last writer wins and concurrent increments add up.
//
// Removal is observed-remove: HDEL (and DEL of the whole hash) does not write a
// new base, it removes the base it saw, keeping that base's version with a null
// value (and marks of the contributions it saw, as a counter's DEL does). A
// concurrent HSET wrote a different base: if its version is greater it wins the
// join as any newer base does; if it is smaller it had already lost to the base
// that was removed. Of two copies of one base version, the removed one wins
// (counter.ts join: an equal version with a null base wins). So a field set
// concurrently elsewhere survives, and what the deleting node had seen goes.
// The removal carries its own stamp (the deleting node's clock), which is what
// collection waits for: once every member holds the removal (the stamp is
// stable for the grace, PROTOCOL.md §Tombstones), the record goes.
//
// The join of two fields is counter.ts's join, plus the removal stamp of the
// winning base version (the greater of two at the same version): commutative,
// associative and idempotent, so a hash's fields can be merged in any order,
// one at a time, and any subset of them is itself a valid state to merge.

/** A shared empty list: most fields never see an increment, and should cost no arrays. */
const NONE: readonly Contribution[] = Object.freeze([])

/** One field of a hash. The version is its base's: the HSET that wrote it. */
export interface Field extends Version {
  /** Base (the value HSET wrote, null when removed or never set), contributions, marks. */
  readonly state: CounterState
  /** Stamp of the HDEL/DEL that removed the base: collection waits for it. Null if not removed. */
  readonly removed: Version | null
}

/**
 * A field HSET wrote and nothing else has touched (no increment, no mark, not
 * removed): most fields of most hashes. It keeps its value as a latin1 string,
 * without a Buffer and a state object, which would cost it twice the memory
 * (bench/RESULTS.md §Memory); packed (PackedField, below) when the value is at
 * most 128 bytes, as most are. `state` gives the same counter state as the
 * general form would hold, built when asked: merges and codecs that see a
 * field through `state` treat both forms alike, and the hot paths below look
 * at the value directly.
 */
class PlainField implements Field {
  constructor (readonly wall: number, readonly logical: number, readonly node: string, readonly value: string) {}

  get state (): CounterState {
    return baseState(this.value)
  }

  get removed (): null {
    return null
  }
}

/** The counter state of a field that is a base and nothing else: what a PlainField or PackedField stands for. */
function baseState (value: string): CounterState {
  return { base: Buffer.from(value, 'latin1'), contribs: NONE, seen: NONE }
}

/**
 * A PlainField in one string (packed.ts: its version and value), for the
 * usual field: a value of at most 128 bytes. An object and its string, about
 * 70 bytes for a 12-byte value, where a PlainField is an object, a box for its
 * `wall` and its value string, about 100 (DESIGN.md §Memory per key). Its
 * version and value are read out of the string when asked.
 */
class PackedField implements Field {
  constructor (private readonly packed: string) {}

  get wall (): number { return packedWall(this.packed) }
  get logical (): number { return packedLogical(this.packed) }
  get node (): string { return packedNode(this.packed, fieldNodes) }
  get value (): string { return packedValue(this.packed) }
  get removed (): null { return null }

  get state (): CounterState {
    return baseState(this.value)
  }
}

/**
 * The node ids packed fields name, numbered for the whole process (a field
 * cannot reach its store's table): ids are few. Once 16,384 are numbered, new
 * ones make PlainFields.
 */
const fieldNodes = new NodeTable()

type Plain = PlainField | PackedField

/** Whether the field is a base and nothing else (plainValue without reading the value out). */
export function isPlain (f: Field): f is Plain {
  return f instanceof PackedField || f instanceof PlainField
}

/** A field that is a base of version `v` and nothing else, packed when it fits (from the bytes as given: no string in between). */
function plainField (v: Version, value: Bytes): Plain {
  const packed = packParts(value, v.wall, v.logical, v.node, fieldNodes)
  if (packed !== undefined) return new PackedField(packed)
  return new PlainField(v.wall, v.logical, v.node, typeof value === 'string' ? value : value.toString('latin1'))
}

/**
 * A field one increment of 1 made and nothing else touched: a set's member
 * added once (PROTOCOL.md §Sets), most members of most sets. The add's node and
 * version are all it keeps; `state` gives the counter state the general form
 * would hold (no base, one contribution whose epoch is its version), built when asked.
 */
class OneAdd implements Field {
  constructor (private readonly by: string, private readonly at: number, private readonly atLogical: number) {}

  get wall (): number { return NO_BASE.wall }
  get logical (): number { return NO_BASE.logical }
  get node (): string { return NO_BASE.node }
  get removed (): null { return null }

  get state (): CounterState {
    return onlyContribution({ node: this.by, epochWall: this.at, epochLogical: this.atLogical, wall: this.at, logical: this.atLogical, total: 1, ftotal: 0 })
  }

  /** The add's version (the newest thing it holds). */
  get added (): Version {
    return { wall: this.at, logical: this.atLogical, node: this.by }
  }
}

/**
 * A field that is one node's contribution and nothing else (no base, no marks,
 * never removed): a member added more than once, all at one node, a field
 * only HINCRBY'd at one node. It holds the contribution itself, which
 * ownFieldContribution hands out to be changed in place; `state` is built
 * around it when asked. As a general record it was a field, a state, a list
 * and the contribution: an SADD of a member present read all four (perf put a
 * quarter of an SADD there).
 */
class OneContribution implements Field {
  constructor (readonly c: Contribution) {}

  get wall (): number { return NO_BASE.wall }
  get logical (): number { return NO_BASE.logical }
  get node (): string { return NO_BASE.node }
  get removed (): null { return null }

  get state (): CounterState {
    return onlyContribution(this.c)
  }
}

/** The value of a field that is a base and nothing else (a latin1 string), or undefined. */
export function plainValue (f: Field): string | undefined {
  return isPlain(f) ? f.value : undefined
}

/**
 * A field of version `v`, in its smallest form: plain when the state is a
 * base and nothing else, one add when it is one first increment of 1 and
 * nothing else, one contribution when it is one node's increments and
 * nothing else (never removed, all three).
 */
export function fieldOf (v: Version, state: CounterState, removed: Version | null): Field {
  if (removed === null && state.seen.length === 0) {
    if (state.base !== null && state.contribs.length === 0) return plainField(v, state.base)
    const c = soleContribution(state)
    if (c !== undefined && compareVersions(v, NO_BASE) === 0) {
      if (c.total === 1 && c.ftotal === 0 && c.epochWall === c.wall && c.epochLogical === c.logical) return new OneAdd(c.node, c.wall, c.logical)
      return new OneContribution(c)
    }
  }
  return { wall: v.wall, logical: v.logical, node: v.node, state, removed }
}

/** A field as the wire gives it: a base of version `v` (a plain field). */
export function baseField (v: Version, value: string): Field {
  return plainField(v, value)
}

/**
 * A hash key's fields. `live` counts those present (exists()): HLEN without a
 * walk. `cut`: the greatest version of a write of another type (a string, a
 * counter, a delete of one) this hash met; every part of a field at or below it
 * is gone (PROTOCOL.md §Hashes, one key, two types). Null: none.
 */
export interface HashState {
  readonly fields: Map<string, Field>
  live: number
  cut: Version | null
  /** A set (PROTOCOL.md §Sets): its members are fields with no base, present while an add is unseen by removals. */
  readonly set: boolean
}

/** The version of a field's base when no HSET ever made one (a field created by HINCRBY). */
const NO_BASE: Version = { wall: 0, logical: 0, node: '-' }

export function newHash (cut: Version | null = null, set = false): HashState {
  return { fields: new Map(), live: 0, cut: cut === null ? null : { wall: cut.wall, logical: cut.logical, node: cut.node }, set }
}

/**
 * The field without its parts at or below `cut` (a write of another type
 * replaced them): its base if its version is not above, each contribution whose
 * latest version is not above. Undefined when nothing is left. It commutes with
 * joinField (each part is kept by its own version, and the join keeps each
 * part's greatest), so it can be applied before or after any merge.
 */
export function cutField (f: Field, cut: Version): Field | undefined {
  const keepBase = compareVersions(f, cut) > 0
  if (isPlain(f)) return keepBase ? f : undefined
  if (f instanceof OneAdd) return compareVersions(f.added, cut) > 0 ? f : undefined
  const keep = (c: Contribution): boolean => compareVersions(c, cut) > 0
  const contribs = f.state.contribs.length === 0 ? NONE : f.state.contribs.filter(keep)
  if (keepBase && contribs.length === f.state.contribs.length) return f
  if (!keepBase && contribs.length === 0) return undefined
  const seen = keepBase ? f.state.seen : NONE // marks are the base's: they go with it
  // A base that goes leaves no version behind (NO_BASE, as if never written): the
  // same record whether the cut came before or after the base arrived.
  const v = keepBase ? f : NO_BASE
  return fieldOf(v, { base: keepBase ? f.state.base : null, contribs, seen }, keepBase ? f.removed : null)
}

/**
 * The newest write a hash or set holds: its key version, its fields' bases
 * and their contributions (a member's adds), removals' stamps left out. When a
 * hash and a set meet at one key, the one with the newer write keeps it
 * (PROTOCOL.md §Sets, one key, two types).
 */
export function newestWrite (key: Version, hash: HashState): Version {
  let best: Version = key
  for (const f of hash.fields.values()) {
    if (compareVersions(f, best) > 0) best = f
    if (isPlain(f)) continue
    if (f instanceof OneAdd) {
      if (compareVersions(f.added, best) > 0) best = f.added
      continue
    }
    for (const c of f.state.contribs) if (compareVersions(c, best) > 0) best = c
  }
  return best
}

/** The newest version of a hash's field parts (a write replacing the hash must outrank it). */
export function newestInHash (hash: HashState): Timestamp | undefined {
  let best: Timestamp | undefined
  for (const f of hash.fields.values()) {
    const n = newestInField(f)
    if (best === undefined || compareTimestamps(n, best) > 0) best = n
  }
  return best
}

/** Whether the field is there for clients: a base, or an increment its base had not seen. */
export function present (f: Field): boolean {
  if (isPlain(f) || f instanceof OneAdd || f instanceof OneContribution) return true // a contribution no mark has seen
  return f.state.base !== null || (f.state.contribs.length > 0 && exists(f.state))
}

/**
 * The name of a present field (a member) at random, or undefined: a walk to a
 * random place in the map, no list of every name made (SPOP and SRANDMEMBER
 * without a count are called in loops). A removed record there draws again;
 * after a few draws, one of the present fields, listed.
 */
export function randomPresent (hash: HashState): string | undefined {
  if (hash.live === 0) return undefined
  for (let draw = 0; draw < 4; draw++) {
    let at = Math.floor(Math.random() * hash.fields.size)
    for (const [name, f] of hash.fields) {
      if (at-- > 0) continue
      if (present(f)) return name
      break
    }
  }
  const names = presentNames(hash)
  return names[Math.floor(Math.random() * names.length)]
}

/** The names of the present fields (a set's members), in the hash's order. */
export function presentNames (hash: HashState): string[] {
  const names: string[] = []
  for (const [name, f] of hash.fields) if (present(f)) names.push(name)
  return names
}

/** The field's value as clients read it (a latin1 string or bytes: replies take both); null when it is not present. */
export function fieldValue (f: Field): Buffer | string | null {
  if (isPlain(f)) return f.value // the common case: no sum to work out
  if (f.state.contribs.length === 0) return f.state.base
  return valueOf(f.state)
}

/** fieldValue as bytes (to parse or copy). */
export function fieldBytes (f: Field): Buffer | null {
  const v = fieldValue(f)
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : v
}

/**
 * SADD: an add of the member by `node` at `ts`, as an increment of its
 * contribution (PROTOCOL.md §Sets): present until a removal has seen this add.
 * An add of a member already present adds too, so a concurrent SREM that saw
 * only the earlier adds leaves it (add wins).
 */
export function addMember (f: Field | undefined, node: string, ts: Timestamp): Field {
  return incrementField(f, node, ts, 1, 0)
}

/**
 * The contribution of `node` that an increment of field f, present, may go
 * into in place (an SADD of a member this node added before, a HINCRBY of a
 * field it incremented): f is a general record or a OneContribution, and no
 * mark refers to that contribution (counter.ts ownContribution). Undefined: the
 * caller makes a new record with incrementField(). Only the forms never changed
 * in place may be shared (a OneAdd serves every new member of one SADD); a
 * general record or a OneContribution belongs to one field of one hash
 * (decoding gives each field its own: ownRecord), as an entry to one key. The
 * field stays present after.
 */
export function ownFieldContribution (f: Field, node: string): Contribution | undefined {
  if (isPlain(f) || f instanceof OneAdd) return undefined
  if (f instanceof OneContribution) return f.c.node === node ? f.c : undefined
  return ownContribution(f.state, node)
}

/**
 * A record for one more field: a compact one as it is (never changed in place),
 * a general one copied, contributions and marks too (a mark that was one of the
 * contributions' own objects stays so), since ownFieldContribution changes a
 * general record's contribution in place.
 */
export function ownRecord (f: Field): Field {
  if (isPlain(f) || f instanceof OneAdd) return f
  if (f instanceof OneContribution) return new OneContribution({ ...f.c })
  const copies = new Map<Contribution, Contribution>()
  const copyOf = (c: Contribution): Contribution => {
    let copy = copies.get(c)
    if (copy === undefined) {
      copy = { ...c }
      copies.set(c, copy)
    }
    return copy
  }
  const contribs = f.state.contribs.map(copyOf)
  const seen = f.state.seen === f.state.contribs ? contribs : f.state.seen.map(copyOf)
  return { wall: f.wall, logical: f.logical, node: f.node, state: { base: f.state.base, contribs, seen }, removed: f.removed }
}

/** HSET: a new base written at `v` (its bytes copied), having seen every contribution held here. */
export function setField (f: Field | undefined, value: Buffer, v: Version): Field {
  if (f === undefined || isPlain(f) || f.state.contribs.length === 0) return plainField(v, value)
  return { wall: v.wall, logical: v.logical, node: v.node, state: rebase(f.state, Buffer.from(value)), removed: null }
}

/** HDEL/DEL: the base seen is removed (same version), with every contribution seen; `stamp` is the removal's. */
export function removeField (f: Field, stamp: Version): Field {
  const state = isPlain(f) || f.state.contribs.length === 0 ? { base: null, contribs: NONE, seen: NONE } : rebase(f.state, null)
  return { wall: f.wall, logical: f.logical, node: f.node, state, removed: { wall: stamp.wall, logical: stamp.logical, node: stamp.node } }
}

/** HINCRBY/HINCRBYFLOAT: adds to `node`'s contribution to the field (made at `ts`). */
export function incrementField (f: Field | undefined, node: string, ts: Timestamp, delta: Int, fdelta: number): Field {
  const base = f ?? { ...NO_BASE, state: { base: null, contribs: NONE, seen: NONE }, removed: null }
  return fieldOf(base, increment(base.state, node, ts, delta, fdelta), base.removed)
}

function newer (a: Version | null, b: Version | null): Version | null {
  if (a === null) return b
  if (b === null) return a
  return compareVersions(a, b) >= 0 ? a : b
}

/** The join of two copies of a field (commutative, associative, idempotent). */
export function joinField (a: Field, b: Field): Field {
  const order = compareVersions(a, b)
  // Two bases and nothing else: the greater version wins (one version is one write, one value).
  if (isPlain(a) && isPlain(b)) return order >= 0 ? a : b
  const side = (f: Field): Side => ({ wall: f.wall, logical: f.logical, node: f.node, expiresAt: 0, state: f.state })
  const j = join(side(a), side(b))
  const removed = order > 0 ? a.removed : order < 0 ? b.removed : newer(a.removed, b.removed)
  return fieldOf(j, j.state, removed)
}

/** Whether two copies of a field are the same state (nothing to merge). */
export function sameField (a: Field, b: Field): boolean {
  if (isPlain(a) && isPlain(b)) return compareVersions(a, b) === 0
  if (compareVersions(a, b) !== 0 || (a.state.base === null) !== (b.state.base === null)) return false
  if ((a.removed === null) !== (b.removed === null) || (a.removed !== null && compareVersions(a.removed, b.removed as Version) !== 0)) return false
  return sameList(a.state.contribs, b.state.contribs) && sameList(a.state.seen, b.state.seen)
}

function sameList (a: readonly Contribution[], b: readonly Contribution[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Contribution
    const y = b[i] as Contribution
    if (x !== y && (x.node !== y.node || x.epochWall !== y.epochWall || x.epochLogical !== y.epochLogical || compareVersions(x, y) !== 0)) return false
  }
  return true
}

/**
 * A removal every member holds (its stamp stable for the grace): the stamp and
 * what its marks saw go; undefined when nothing is left of the field.
 */
export function collectField (f: Field): Field | undefined {
  const state = f.state.contribs.length === 0 ? f.state : collect(f.state)
  if (state.base === null && state.contribs.length === 0) return undefined
  return fieldOf(f, state, null)
}

/**
 * The hash's expiry (ms) has passed: a base written before it goes, and every
 * contribution started before it (as a counter's, counter.ts expire). Every
 * node computes the same from the state. Undefined when nothing is left.
 */
export function expireField (f: Field, expiresAt: number): Field | undefined {
  const keepBase = f.wall >= expiresAt
  if (isPlain(f)) return keepBase ? f : undefined
  if (f instanceof OneAdd) return f.added.wall >= expiresAt ? f : undefined
  const keep = (c: Contribution): boolean => c.epochWall >= expiresAt
  const contribs = f.state.contribs.length === 0 ? NONE : f.state.contribs.filter(keep)
  if (keepBase && contribs.length === f.state.contribs.length) return f
  const base = keepBase ? f.state.base : null
  if (base === null && contribs.length === 0) return undefined
  const seen = f.state.seen.length === 0 ? NONE : f.state.seen.filter(keep)
  return fieldOf(f, { base, contribs, seen }, f.removed)
}

/** The newest version a field carries (for the clock to observe). */
export function newestInField (f: Field): Timestamp {
  if (isPlain(f)) return f
  if (f instanceof OneAdd) return f.added
  let best: Timestamp = f.removed !== null && compareVersions(f.removed, f) > 0 ? f.removed : f
  for (const c of f.state.contribs) if (c.wall > best.wall || (c.wall === best.wall && c.logical > best.logical)) best = c
  return best
}
