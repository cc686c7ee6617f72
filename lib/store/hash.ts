import { compareTimestamps, compareVersions, type Timestamp, type Version } from './clock.js'
import { collect, exists, increment, join, rebase, valueOf, type Contribution, type CounterState } from './counter.js'
import type { Int } from './numbers.js'

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
  const keep = (c: Contribution): boolean => compareVersions(c, cut) > 0
  const contribs = f.state.contribs.length === 0 ? NONE : f.state.contribs.filter(keep)
  if (keepBase && contribs.length === f.state.contribs.length) return f
  if (!keepBase && contribs.length === 0) return undefined
  const seen = keepBase ? f.state.seen : NONE // marks are the base's: they go with it
  // A base that goes leaves no version behind (NO_BASE, as if never written): the
  // same record whether the cut came before or after the base arrived.
  const v = keepBase ? f : NO_BASE
  return { wall: v.wall, logical: v.logical, node: v.node, state: { base: keepBase ? f.state.base : null, contribs, seen }, removed: keepBase ? f.removed : null }
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
  return f.state.base !== null || (f.state.contribs.length > 0 && exists(f.state))
}

/** The field's value as clients read it; null when it is not present. */
export function fieldValue (f: Field): Buffer | null {
  if (f.state.contribs.length === 0) return f.state.base // the common case: no sum to work out
  return valueOf(f.state)
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

/** HSET: a new base written at `v`, having seen every contribution held here. */
export function setField (f: Field | undefined, value: Buffer, v: Version): Field {
  const state = f === undefined || f.state.contribs.length === 0
    ? { base: value, contribs: NONE, seen: NONE }
    : rebase(f.state, value)
  return { wall: v.wall, logical: v.logical, node: v.node, state, removed: null }
}

/** HDEL/DEL: the base seen is removed (same version), with every contribution seen; `stamp` is the removal's. */
export function removeField (f: Field, stamp: Version): Field {
  const state = f.state.contribs.length === 0 ? { base: null, contribs: NONE, seen: NONE } : rebase(f.state, null)
  return { wall: f.wall, logical: f.logical, node: f.node, state, removed: { wall: stamp.wall, logical: stamp.logical, node: stamp.node } }
}

/** HINCRBY/HINCRBYFLOAT: adds to `node`'s contribution to the field (made at `ts`). */
export function incrementField (f: Field | undefined, node: string, ts: Timestamp, delta: Int, fdelta: number): Field {
  const base = f ?? { ...NO_BASE, state: { base: null, contribs: NONE, seen: NONE }, removed: null }
  return { wall: base.wall, logical: base.logical, node: base.node, state: increment(base.state, node, ts, delta, fdelta), removed: base.removed }
}

function newer (a: Version | null, b: Version | null): Version | null {
  if (a === null) return b
  if (b === null) return a
  return compareVersions(a, b) >= 0 ? a : b
}

/** The join of two copies of a field (commutative, associative, idempotent). */
export function joinField (a: Field, b: Field): Field {
  const j = join({ ...a, expiresAt: 0 }, { ...b, expiresAt: 0 })
  const order = compareVersions(a, b)
  const removed = order > 0 ? a.removed : order < 0 ? b.removed : newer(a.removed, b.removed)
  return { wall: j.wall, logical: j.logical, node: j.node, state: j.state, removed }
}

/** Whether two copies of a field are the same state (nothing to merge). */
export function sameField (a: Field, b: Field): boolean {
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
  return { wall: f.wall, logical: f.logical, node: f.node, state, removed: null }
}

/**
 * The hash's expiry (ms) has passed: a base written before it goes, and every
 * contribution started before it (as a counter's, counter.ts expire). Every
 * node computes the same from the state. Undefined when nothing is left.
 */
export function expireField (f: Field, expiresAt: number): Field | undefined {
  const keepBase = f.wall >= expiresAt
  const keep = (c: Contribution): boolean => c.epochWall >= expiresAt
  const contribs = f.state.contribs.length === 0 ? NONE : f.state.contribs.filter(keep)
  if (keepBase && contribs.length === f.state.contribs.length) return f
  const base = keepBase ? f.state.base : null
  if (base === null && contribs.length === 0) return undefined
  const seen = f.state.seen.length === 0 ? NONE : f.state.seen.filter(keep)
  return { wall: f.wall, logical: f.logical, node: f.node, state: { base, contribs, seen }, removed: f.removed }
}

/** The newest version a field carries (for the clock to observe). */
export function newestInField (f: Field): Timestamp {
  let best: Timestamp = f.removed !== null && compareVersions(f.removed, f) > 0 ? f.removed : f
  for (const c of f.state.contribs) if (c.wall > best.wall || (c.wall === best.wall && c.logical > best.logical)) best = c
  return best
}
