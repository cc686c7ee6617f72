import { compareTimestamps, compareVersions, type Timestamp, type Version } from './clock.js'
import type { Bytes } from './bytes.js'
import { addInt, formatFloat, isSharedInteger, parseFloatValue, parseInt64, sharedInteger, subInt, type Int } from './numbers.js'

// PROTOCOL.md §Counters. A key that has been incremented keeps, beside its
// base (the value the winning SET wrote, or none), one contribution per node
// and epoch: the sum of that node's increments. Contributions merge by taking
// each one's latest version; the base merges by last writer wins and carries
// the contributions it had seen when it was written (its `seen` marks). The
// value is the base plus every contribution's part the base had not seen. So
// concurrent increments all count, a SET replaces what it had seen, and
// increments concurrent with it land on top.
//
// A change makes new states, so a base's marks can share the contribution
// objects they saw. The exception, for speed: a node's own increment changes
// its contribution in place when no mark refers to that object (Store.increment,
// and HashKeys.incrementInPlace for a hash field or set member); so a state
// belongs to one key (or one field), and nobody keeps a contribution past the
// call that got it.

/** One node's increments to a key since its epoch (when it started this contribution). */
export interface Contribution extends Version {
  /** Epoch: the timestamp of the contribution's first increment. With `node`, its identity. */
  readonly epochWall: number
  readonly epochLogical: number
  /** Sum of INCR/INCRBY/DECR/DECRBY deltas. */
  total: Int
  /** Sum of INCRBYFLOAT deltas (0 if none). */
  ftotal: number
}

export interface CounterState {
  /** The base value; null when there is none (never set, or deleted or expired). */
  readonly base: Buffer | null
  /** Sorted by node, then epoch: sums are taken in this order on every node. */
  readonly contribs: readonly Contribution[]
  /** Contributions as the base's writer held them when it wrote the base (same order). */
  readonly seen: readonly Contribution[]
}

function sameIdentity (a: Contribution, b: Contribution): boolean {
  return a.node === b.node && a.epochWall === b.epochWall && a.epochLogical === b.epochLogical
}

export function compareIdentity (a: Contribution, b: Contribution): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  return a.epochWall - b.epochWall || a.epochLogical - b.epochLogical
}

function markOf (seen: readonly Contribution[], c: Contribution): Contribution | undefined {
  for (const m of seen) if (sameIdentity(m, c)) return m
  return undefined
}

/** Whether the base had seen the contribution as it is now (same version). */
function fullySeen (seen: readonly Contribution[], c: Contribution): boolean {
  const m = markOf(seen, c)
  return m !== undefined && m.wall === c.wall && m.logical === c.logical
}

/** What the value adds up to, before formatting: an integer, a float, or the base as it is. */
export type Sum = { kind: 'int', value: Int } | { kind: 'float', value: number } | { kind: 'opaque' }

/** The base plus every part of a contribution the base had not seen (PROTOCOL.md §Counters). */
export function sumOf (state: CounterState): Sum {
  let int: Int = 0
  let float = 0
  for (const c of state.contribs) {
    const m = markOf(state.seen, c)
    int = addInt(int, m === undefined ? c.total : subInt(c.total, m.total))
    float += m === undefined ? c.ftotal : c.ftotal - m.ftotal
  }
  // INCRBYFLOATs that add up to a whole number are one, exactly: Redis would
  // have stored `16`, and an INCRBY after it adds in integers, not doubles.
  if (float !== 0 && Number.isSafeInteger(float)) {
    int = addInt(int, float)
    float = 0
  }
  const base = state.base
  if (base === null) return float === 0 ? { kind: 'int', value: int } : { kind: 'float', value: Number(int) + float }
  const asInt = parseInt64(base)
  if (asInt !== null && float === 0) return { kind: 'int', value: addInt(asInt, int) }
  const asFloat = asInt !== null ? Number(asInt) : parseFloatValue(base)
  if (asFloat === null) return { kind: 'opaque' } // a base that is not a number takes no increments
  return { kind: 'float', value: asFloat + Number(int) + float }
}

/** Whether every contribution adds nothing its base had not seen. */
function nothingUnseen (state: CounterState): boolean {
  for (const c of state.contribs) {
    const m = markOf(state.seen, c)
    if (m === undefined ? c.total !== 0 || c.ftotal !== 0 : c.total !== m.total || c.ftotal !== m.ftotal) return false
  }
  return true
}

/** Whether the key exists: it has a base, or a contribution its base had not seen in full. */
export function exists (state: CounterState): boolean {
  if (state.base !== null) return true
  for (const c of state.contribs) if (!fullySeen(state.seen, c)) return true
  return false
}

/** The value clients read: null when the key does not exist. */
export function valueOf (state: CounterState): Buffer | null {
  return valueInto(state, null)
}

/**
 * valueOf, written into `old` (the entry's previous value) when it has the
 * new value's length and is neither the base's own bytes nor a shared
 * integer's (0..9999 are sharedInteger()'s, and cost nothing): a local increment then
 * allocates no buffer (Store.increment; a new one per INCR, living as long as
 * the key, cost more than the rest of the increment). The store's rule makes
 * it safe: nobody keeps a value past the call that got it. An `old` string
 * (the entry was read out of a cell, where the value goes back) gets a string.
 */
export function valueInto (state: CounterState, old: Buffer | null): Buffer | null
export function valueInto (state: CounterState, old: Bytes | null): Bytes | null
export function valueInto (state: CounterState, old: Bytes | null): Bytes | null {
  if (!exists(state)) return null
  const sum = sumOf(state)
  if (sum.kind === 'opaque' || (state.base !== null && nothingUnseen(state))) return state.base // as written: `+1` stays `+1`
  if (sum.kind === 'int') {
    const small = sharedInteger(sum.value)
    if (small !== undefined) return small
  }
  const text = sum.kind === 'int' ? sum.value.toString() : formatFloat(sum.value)
  if (typeof old === 'string') return text
  if (old === null || old === state.base || old.length !== text.length || isSharedInteger(old)) return Buffer.from(text, 'latin1')
  old.write(text, 0, 'latin1')
  return old
}

/** The empty list, shared: no state changes a list in place (frozen, so none can). */
const NONE: readonly Contribution[] = Object.freeze([])

/**
 * A key only ever incremented, at one node: no base, one contribution, no
 * marks. The compact forms keep such a state as its contribution alone (a
 * cell, cells.ts; a OneAdd or OneContribution field, hash.ts).
 */
export function onlyContribution (c: Contribution): CounterState {
  return { base: null, contribs: [c], seen: NONE }
}

/** The contribution of a state onlyContribution() describes, or undefined when it is not one. */
export function soleContribution (state: CounterState): Contribution | undefined {
  return state.base === null && state.seen.length === 0 && state.contribs.length === 1 ? state.contribs[0] : undefined
}

/** The state with no contributions: what a plain value or tombstone is. */
export function plainState (base: Buffer | null): CounterState {
  return { base, contribs: NONE, seen: NONE }
}

/** Index of `node`'s newest contribution, or -1. */
export function newestOf (state: CounterState, node: string): number {
  let mine = -1
  for (let i = 0; i < state.contribs.length; i++) if ((state.contribs[i] as Contribution).node === node) mine = i // sorted: the last is the newest
  return mine
}

/**
 * `node`'s newest contribution if the state may change it in place: no mark
 * refers to that object and the list is not the marks' list. Undefined: the
 * caller makes a new state with increment().
 */
export function ownContribution (state: CounterState, node: string): Contribution | undefined {
  if (state.contribs === state.seen) return undefined
  const mine = state.contribs[newestOf(state, node)]
  if (mine === undefined || state.seen.includes(mine)) return undefined
  return mine
}

/** Adds an increment made at `ts` to a contribution ownContribution() gave, in place. */
export function addInPlace (c: Contribution, ts: Timestamp, delta: Int, fdelta: number): void {
  const mutable = c as { -readonly [K in keyof Contribution]: Contribution[K] }
  mutable.total = addInt(c.total, delta)
  mutable.ftotal += fdelta
  mutable.wall = ts.wall
  mutable.logical = ts.logical
}

/**
 * Adds an increment by `node` at `ts` to its newest contribution (a new one,
 * epoch `ts`, if it has none), in a new state.
 */
export function increment (state: CounterState, node: string, ts: Timestamp, delta: Int, fdelta: number): CounterState {
  const mine = newestOf(state, node)
  const old = mine < 0 ? undefined : state.contribs[mine]
  const next: Contribution = {
    node,
    epochWall: old?.epochWall ?? ts.wall,
    epochLogical: old?.epochLogical ?? ts.logical,
    wall: ts.wall,
    logical: ts.logical,
    total: addInt(old?.total ?? 0, delta),
    ftotal: (old?.ftotal ?? 0) + fdelta
  }
  // A key's first contribution: a list of exactly one (a copy grown by a splice holds 17 slots).
  if (state.contribs.length === 0) return { base: state.base, contribs: [next], seen: state.seen }
  const contribs = state.contribs.slice()
  if (old !== undefined) contribs[mine] = next
  else insertSorted(contribs, next)
  return { base: state.base, contribs, seen: state.seen }
}

function insertSorted (list: Contribution[], c: Contribution): void {
  let i = list.length
  while (i > 0 && compareIdentity(list[i - 1] as Contribution, c) > 0) i--
  list.splice(i, 0, c)
}

/** A local SET, DEL or EXPIRE: a new base that has seen every contribution held here. */
export function rebase (state: CounterState, base: Buffer | null): CounterState {
  return { base, contribs: state.contribs, seen: state.contribs }
}

/** Each contribution at its latest version, from both lists (both sorted). */
function joinContribs (a: readonly Contribution[], b: readonly Contribution[]): readonly Contribution[] {
  if (b.length === 0) return a
  if (a.length === 0) return b
  const out: Contribution[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined) { out.push(x as Contribution); i++; continue }
    if (x === undefined) { out.push(y); j++; continue }
    const order = compareIdentity(x, y)
    if (order < 0) { out.push(x); i++ } else if (order > 0) { out.push(y); j++ } else {
      out.push(compareVersions(x, y) >= 0 ? x : y)
      i++
      j++
    }
  }
  return out
}

/** One side of a join: a key's base with its version and expiry, and its counter state. */
export interface Side extends Version {
  expiresAt: number
  state: CounterState
}

/**
 * The join of two states of a key (commutative, associative, idempotent): the
 * base of the greater version, with its marks and expiry, and every
 * contribution at its latest version. Of two bases with the same version, one
 * expired (null) wins over the value it was.
 */
export function join (a: Side, b: Side): Side {
  const order = compareVersions(a, b)
  const winner = order > 0 || (order === 0 && (a.state.base === null || b.state.base !== null)) ? a : b
  // One base, two copies: marks one node has collected come back with the
  // other's, and go again with the contributions they saw (never one without
  // the other, or what the mark saw would count again).
  const seen = order === 0 ? joinContribs(a.state.seen, b.state.seen) : winner.state.seen
  return {
    wall: winner.wall,
    logical: winner.logical,
    node: winner.node,
    expiresAt: winner.expiresAt,
    state: { base: winner.state.base, contribs: joinContribs(a.state.contribs, b.state.contribs), seen }
  }
}

/**
 * A base that has expired is gone, and with it every contribution started
 * before its expiry (they were part of the value that expired); contributions
 * started at or after it stay. Every node computes the same from the state.
 */
export function expire (state: CounterState, expiresAt: number): CounterState {
  const keep = (c: Contribution): boolean => c.epochWall >= expiresAt
  return { base: null, contribs: state.contribs.filter(keep), seen: state.seen.filter(keep) }
}

/**
 * Drops the contributions the base had seen in full, with their marks, and
 * marks of contributions no longer held: for a base every member holds (stable
 * for the grace, PROTOCOL.md §Tombstones), nothing can arrive that still needs
 * them. A contribution the node later increments again starts a new epoch.
 */
export function collect (state: CounterState): CounterState {
  const contribs = state.contribs.filter(c => !fullySeen(state.seen, c))
  const seen = state.seen.filter(m => contribs.some(c => sameIdentity(c, m)))
  if (contribs.length === state.contribs.length && seen.length === state.seen.length) return state
  return { base: state.base, contribs, seen }
}

export function isPlain (state: CounterState): boolean {
  return state.contribs.length === 0 && state.seen.length === 0
}

/** Same base version assumed: whether the two states hold the same contributions and marks. */
export function sameState (a: CounterState, b: CounterState): boolean {
  if ((a.base === null) !== (b.base === null)) return false
  return sameList(a.contribs, b.contribs) && sameList(a.seen, b.seen)
}

function sameList (a: readonly Contribution[], b: readonly Contribution[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Contribution
    const y = b[i] as Contribution
    if (x !== y && (!sameIdentity(x, y) || compareVersions(x, y) !== 0)) return false
  }
  return true
}

/** The newest version among the contributions (for the clock to observe). */
export function newestContribution (state: CounterState): Timestamp | undefined {
  let best: Timestamp | undefined
  for (const c of state.contribs) if (best === undefined || compareTimestamps(c, best) > 0) best = c
  return best
}
