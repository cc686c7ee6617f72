// Numbers as Redis reads and prints them, for counters (PROTOCOL.md §Counters):
// exact integers (a number while safe, a bigint beyond), int64 and float parsing
// as Redis's string2ll and string2ld, and INCRBYFLOAT's printing.

import type { Bytes } from './bytes.js'

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/**
 * An exact integer: a number while it is a safe integer (no allocation to add
 * one: the common case), a bigint beyond (a sum of int64 increments may outgrow
 * even 64 bits). Always in that canonical form, so equal values are `===`.
 */
export type Int = number | bigint

export function canonical (v: bigint): Int {
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

/** The byte at `i` of a value's bytes, a Buffer or a latin1 string (a cell's value is read out as one). */
function codeAt (b: Bytes, i: number): number {
  return typeof b === 'string' ? b.charCodeAt(i) : b[i] as number
}

/**
 * A canonical int64 decimal as Redis's string2ll takes it: no sign but '-', no
 * leading zeros, no spaces; null otherwise.
 */
export function parseInt64 (b: Bytes): Int | null {
  const n = b.length
  if (n === 0 || n > 20) return null
  let i = codeAt(b, 0) === 45 ? 1 : 0
  if (i === n) return null
  if (codeAt(b, i) === 48 && n > i + 1) return null
  for (let j = i; j < n; j++) {
    const c = codeAt(b, j)
    if (c < 48 || c > 57) return null
  }
  if (i === 1 && n === 2 && codeAt(b, 1) === 48) return null // "-0"
  if (n <= 15) { // the common case, within a double's exact integers: no string in between
    let v = 0
    for (let j = i; j < n; j++) v = v * 10 + codeAt(b, j) - 48
    return i === 1 ? -v : v
  }
  const v = BigInt(typeof b === 'string' ? b : b.toString('latin1'))
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
export function parseFloatValue (arg: Bytes): number | null {
  if (arg.length === 0 || arg.length > FLOAT_MAX_LEN) return null
  const s = typeof arg === 'string' ? arg : arg.toString('latin1')
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

export function inInt64 (v: Int): boolean {
  return typeof v === 'number' || (v <= INT64_MAX && v >= INT64_MIN)
}

// The bytes of the integers 0..9999, shared by every counter whose value is one
// of them, as Redis shares its integer objects (OBJ_SHARED_INTEGERS): a counter
// then holds no buffer of its own, and an INCR that lands there allocates none.
// Shared bytes must never be written: isSharedInteger() tells them apart.
const SHARED_INTEGERS = 10000
/** Where n's digits start in sharedBytes (and n + 1's: where they end). */
const sharedOffsets = new Uint32Array(SHARED_INTEGERS + 1)
for (let n = 0; n < SHARED_INTEGERS; n++) sharedOffsets[n + 1] = (sharedOffsets[n] as number) + String(n).length
const sharedBytes = Buffer.alloc(sharedOffsets[SHARED_INTEGERS] as number)
for (let n = 0; n < SHARED_INTEGERS; n++) sharedBytes.write(String(n), sharedOffsets[n] as number, 'latin1')
const shared: Array<Buffer | undefined> = new Array(SHARED_INTEGERS)

/** The shared bytes of `n` if it is one of 0..9999 (made on first use); undefined otherwise. */
export function sharedInteger (n: Int): Buffer | undefined {
  if (typeof n !== 'number' || n < 0 || n >= SHARED_INTEGERS) return undefined
  let b = shared[n]
  if (b === undefined) {
    b = sharedBytes.subarray(sharedOffsets[n], sharedOffsets[n + 1])
    shared[n] = b
  }
  return b
}

/** Whether `b` is sharedInteger()'s: bytes nobody may write. */
export function isSharedInteger (b: Buffer): boolean {
  return b.buffer === sharedBytes.buffer
}
