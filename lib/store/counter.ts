import { compareTimestamps, compareVersions, type Timestamp, type Version } from './clock.js'

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
// objects they saw. The one exception, for speed: a node's own increment
// changes its contribution in place when no mark refers to that object
// (Store.increment); nobody keeps a contribution past the call that got it.

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

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/**
 * An exact integer: a number while it is a safe integer (no allocation to add
 * one: the common case), a bigint beyond (a sum of int64 increments may outgrow
 * even 64 bits). Always in that canonical form, so equal values are `===`.
 */
export type Int = number | bigint

function canonical (v: bigint): Int {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v
}

export function addInt (a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b
    if (Number.isSafeInteger(r)) return r
  }
  return canonical(BigInt(a) + BigInt(b))
}

export function subInt (a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a - b
    if (Number.isSafeInteger(r)) return r
  }
  return canonical(BigInt(a) - BigInt(b))
}

export function negInt (a: Int): Int {
  return typeof a === 'number' ? (a === 0 ? 0 : -a) : canonical(-a)
}

function sameIdentity (a: Contribution, b: Contribution): boolean {
  return a.node === b.node && a.epochWall === b.epochWall && a.epochLogical === b.epochLogical
}

function compareIdentity (a: Contribution, b: Contribution): number {
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

/**
 * A canonical int64 decimal as Redis's string2ll takes it: no sign but '-', no
 * leading zeros, no spaces; null otherwise.
 */
export function parseInt64 (b: Buffer): Int | null {
  const n = b.length
  if (n === 0 || n > 20) return null
  let i = b[0] === 45 ? 1 : 0
  if (i === n) return null
  if (b[i] === 48 && n > i + 1) return null
  for (let j = i; j < n; j++) {
    const c = b[j] as number
    if (c < 48 || c > 57) return null
  }
  if (b[0] === 45 && n === 2 && b[1] === 48) return null // "-0"
  if (n <= 15) { // the common case, within a double's exact integers: no string in between
    let v = 0
    for (let j = i; j < n; j++) v = v * 10 + (b[j] as number) - 48
    return i === 1 ? -v : v
  }
  const v = BigInt(b.toString('latin1'))
  return v > INT64_MAX || v < INT64_MIN ? null : canonical(v)
}

/** Longest float Redis reads (its buffer of MAX_LONG_DOUBLE_CHARS, with the NUL). */
const FLOAT_MAX_LEN = 5 * 1024 - 1
const DECIMAL_FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?$/
const INFINITY = /^[+-]?(inf|infinity)$/i
/** Decimal exponents of the largest and smallest (denormal) long doubles: beyond them strtold sets ERANGE. */
const LONG_DOUBLE_MAX_E10 = 4932
const LONG_DOUBLE_MIN_E10 = -4951

/**
 * A float as Redis's string2ld reads it (a value or INCRBYFLOAT's increment): the whole argument is
 * what strtold takes (decimal, hexadecimal as `0x1.8p3`, `inf`, `infinity`), with
 * no leading space, not NaN, not past a long double's range (ERANGE); null
 * otherwise. Within that range, a value past a double's is ±Infinity
 * (PROTOCOL.md §Differences from Redis).
 */
export function parseFloatValue (arg: Buffer): number | null {
  if (arg.length === 0 || arg.length > FLOAT_MAX_LEN) return null
  const s = arg.toString('latin1')
  if (INFINITY.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  const hex = HEX_FLOAT.exec(s)
  if (hex !== null) return hexFloat(hex[1] === '-', hex[2] as string, Number((hex[3] ?? 'p0').slice(1)))
  if (!DECIMAL_FLOAT.test(s)) return null
  // The decimal exponent of the first significant digit, for strtold's range.
  const [mantissa = '', exponent = '0'] = s.replace(/^[+-]/, '').split(/[eE]/)
  const digits = mantissa.replace('.', '')
  const first = digits.search(/[1-9]/)
  if (first >= 0) {
    const point = mantissa.includes('.') ? mantissa.indexOf('.') : mantissa.length
    const e10 = Number(exponent) + point - first - 1
    if (e10 > LONG_DOUBLE_MAX_E10 || e10 < LONG_DOUBLE_MIN_E10) return null
  }
  return Number(s)
}

/** `0x<digits>p<exponent>`: the digits (a point among them) times 2^exponent. */
function hexFloat (negative: boolean, digits: string, exponent: number): number | null {
  const point = digits.indexOf('.')
  const fraction = point < 0 ? 0 : digits.length - point - 1
  const whole = digits.replace('.', '')
  const first = whole.search(/[1-9a-fA-F]/)
  if (first < 0) return negative ? -0 : 0
  // The binary exponent of the leading digit, roughly: past a long double's range is ERANGE.
  const e2 = exponent + 4 * (whole.length - first - fraction)
  if (e2 > 16384 || e2 < -16445) return null
  // Scaled in steps, so that 2^e itself neither overflows nor underflows before the product would.
  let value = Number(BigInt('0x' + whole.slice(first)))
  let e = exponent - 4 * fraction
  for (; e > 1000; e -= 1000) value *= 2 ** 1000
  for (; e < -1000; e += 1000) value *= 2 ** -1000
  value *= 2 ** e
  return negative ? -value : value
}

/**
 * A double as Redis prints INCRBYFLOAT results: plain decimal, no exponent,
 * trailing zeros dropped. JavaScript's shortest round-trip digits stand in for
 * Redis's 17 digits of long double (PROTOCOL.md §Differences from Redis).
 */
export function formatFloat (v: number): string {
  if (Number.isInteger(v)) return BigInt(v).toString()
  const s = plainDecimal(v)
  const point = s.indexOf('.')
  // Redis prints 17 decimals at most (%.17Lf, trailing zeros dropped): 5e-324 is 0.
  if (point >= 0 && s.length - point - 1 > 17) return v.toFixed(17).replace(/\.?0+$/, '').replace(/^-0$/, '0')
  return s
}

/** The shortest digits that read back as `v`, as a plain decimal (no exponent). */
function plainDecimal (v: number): string {
  const s = String(v)
  const e = s.indexOf('e')
  if (e < 0) return s
  // Shortest digits in exponent form (1.5e-10): written out as a plain decimal.
  const sign = s.startsWith('-') ? '-' : ''
  const digits = s.slice(sign.length, e).replace('.', '')
  const point = s.slice(sign.length, e).indexOf('.')
  const exponent = Number(s.slice(e + 1)) + (point < 0 ? digits.length : point)
  if (exponent <= 0) return `${sign}0.${'0'.repeat(-exponent)}${digits}`
  return `${sign}${digits.slice(0, exponent)}${digits.length > exponent ? '.' + digits.slice(exponent) : ''}`
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
  if (!exists(state)) return null
  const sum = sumOf(state)
  if (sum.kind === 'opaque' || (state.base !== null && nothingUnseen(state))) return state.base // as written: `+1` stays `+1`
  return Buffer.from(sum.kind === 'int' ? sum.value.toString() : formatFloat(sum.value), 'latin1')
}

export function inInt64 (v: Int): boolean {
  return typeof v === 'number' || (v <= INT64_MAX && v >= INT64_MIN)
}

/** The state with no contributions: what a plain value or tombstone is. */
export function plainState (base: Buffer | null): CounterState {
  return { base, contribs: [], seen: [] }
}

/**
 * Adds an increment by `node` at `ts` to its newest contribution (a new one,
 * epoch `ts`, if it has none).
 */
/** Index of `node`'s newest contribution, or -1. */
export function newestOf (state: CounterState, node: string): number {
  let mine = -1
  for (let i = 0; i < state.contribs.length; i++) if ((state.contribs[i] as Contribution).node === node) mine = i // sorted: the last is the newest
  return mine
}

/**
 * Adds an increment to `node`'s newest contribution in place, if that object
 * is the state's alone (no mark refers to it, the list is not the marks'
 * list): true if done. Else the caller makes a new state with increment().
 */
export function incrementInPlace (state: CounterState, node: string, ts: Timestamp, delta: Int, fdelta: number): boolean {
  if (state.contribs === state.seen) return false
  const mine = state.contribs[newestOf(state, node)]
  if (mine === undefined || state.seen.includes(mine)) return false
  const c = mine as { -readonly [K in keyof Contribution]: Contribution[K] }
  c.total = addInt(c.total, delta)
  c.ftotal += fdelta
  c.wall = ts.wall
  c.logical = ts.logical
  return true
}

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

// The state's bytes (PROTOCOL.md §Counters, FORMAT.md §Records): MREPL op C,
// the counter field of SYNC pages, and the log's counter records.
//   u8 1 | u8 flags (1: a base) | [u32 length, base] | u16 n, n contributions | u16 m, m marks
//   contribution: u8 id length, id, f64 epoch wall, u32 epoch logical, f64 wall, u32 logical, f64 ftotal,
//                 u8 length, total in decimal (a sum of int64 deltas may outgrow 64 bits)

const FORMAT = 1
const FIXED = 8 + 4 + 8 + 4 + 8 + 1

export function encodedSize (state: CounterState): number {
  let n = 2 + (state.base === null ? 0 : 4 + state.base.length) + 4
  for (const c of state.contribs) n += 1 + c.node.length + FIXED + String(c.total).length
  for (const c of state.seen) n += 1 + c.node.length + FIXED + String(c.total).length
  return n
}

export function encodeState (state: CounterState, buf: Buffer = Buffer.allocUnsafe(encodedSize(state)), at = 0): Buffer {
  let o = at
  buf[o++] = FORMAT
  buf[o++] = state.base === null ? 0 : 1
  if (state.base !== null) {
    buf.writeUInt32LE(state.base.length, o)
    o += 4
    o += state.base.copy(buf, o)
  }
  for (const list of [state.contribs, state.seen]) {
    buf.writeUInt16LE(list.length, o)
    o += 2
    for (const c of list) {
      buf[o++] = c.node.length
      o += buf.write(c.node, o, 'latin1')
      buf.writeDoubleLE(c.epochWall, o)
      buf.writeUInt32LE(c.epochLogical, o + 8)
      buf.writeDoubleLE(c.wall, o + 12)
      buf.writeUInt32LE(c.logical, o + 20)
      buf.writeDoubleLE(c.ftotal, o + 24)
      const total = String(c.total)
      buf[o + 32] = total.length
      o += FIXED
      o += buf.write(total, o, 'latin1')
    }
  }
  return buf
}

/** The state in `b`, or a string saying what is wrong. The base is copied. */
export function decodeState (b: Buffer): CounterState | string {
  try {
    let o = 0
    if (b[o++] !== FORMAT) return 'unknown counter format'
    const flags = b[o++] as number
    let base: Buffer | null = null
    if ((flags & 1) === 1) {
      const n = b.readUInt32LE(o)
      o += 4
      if (o + n > b.length) return 'the base overruns the counter'
      base = Buffer.from(b.subarray(o, o + n))
      o += n
    }
    const lists: Contribution[][] = []
    for (let l = 0; l < 2; l++) {
      const count = b.readUInt16LE(o)
      o += 2
      const list: Contribution[] = []
      for (let i = 0; i < count; i++) {
        const idLength = b[o++] as number
        if (o + idLength + FIXED > b.length) return 'a contribution overruns the counter'
        const node = b.toString('latin1', o, o + idLength)
        o += idLength
        const totalLength = b[o + 32] as number
        const total = b.toString('latin1', o + FIXED, o + FIXED + totalLength)
        if (!/^-?\d{1,60}$/.test(total)) return 'a bad contribution total'
        const c: Contribution = {
          node,
          epochWall: b.readDoubleLE(o),
          epochLogical: b.readUInt32LE(o + 8),
          wall: b.readDoubleLE(o + 12),
          logical: b.readUInt32LE(o + 20),
          ftotal: b.readDoubleLE(o + 24),
          total: canonical(BigInt(total))
        }
        o += FIXED + totalLength
        if (list.length > 0 && compareIdentity(list[list.length - 1] as Contribution, c) >= 0) return 'contributions out of order'
        list.push(c)
      }
      lists.push(list)
    }
    if (o !== b.length) return 'trailing bytes after the counter'
    return { base, contribs: lists[0] as Contribution[], seen: lists[1] as Contribution[] }
  } catch {
    return 'the counter is cut short'
  }
}
