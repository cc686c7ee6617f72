import { bulk, integer, type Encoded } from '../protocol/reply.js'
import { inInt64, parseFloatValue, parseInt64 } from '../store/counter.js'
import { CommandError, keyOf } from './args.js'
import { ERRORS } from './errors.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Counters: INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT. Each adds to
// this node's contribution to the key, so increments made at the same time at
// other nodes are added, not overwritten.

function int64Arg (arg: Buffer | undefined): bigint {
  const n = arg === undefined ? null : parseInt64(arg)
  if (n === null) throw new CommandError(ERRORS.notInteger)
  return n
}

/** Adds `delta` to the key's integer value (0 when missing); the new value. */
function incrementBy (ctx: CommandContext, keyArg: Buffer | undefined, delta: bigint): Encoded {
  const store = ctx.node.store
  const key = keyOf(keyArg)
  const current = store.get(key)?.value
  const value = current === undefined || current === null ? 0n : parseInt64(current)
  if (value === null) throw new CommandError(ERRORS.notInteger)
  const result = value + delta
  if (!inInt64(result)) throw new CommandError(ERRORS.overflow)
  store.increment(key, delta, 0)
  return integer(result)
}

const incr = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], 1n)
const decr = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], -1n)
const incrby = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], int64Arg(args[2]))

function decrby (ctx: CommandContext, args: Buffer[]): Encoded {
  const delta = int64Arg(args[2])
  if (delta === -9223372036854775808n) throw new CommandError(ERRORS.decrementOverflow)
  return incrementBy(ctx, args[1], -delta)
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
 * INCRBYFLOAT's increment as Redis's string2ld reads it: the whole argument is
 * what strtold takes (decimal, hexadecimal as `0x1.8p3`, `inf`, `infinity`), with
 * no leading space, not NaN, not past a long double's range (ERANGE); null
 * otherwise. Within that range, a value past a double's is ±Infinity
 * (PROTOCOL.md §Differences from Redis).
 */
export function parseIncrement (arg: Buffer): number | null {
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

function incrbyfloat (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const key = keyOf(args[1])
  const current = store.get(key)?.value
  // The value as the store reads it (lib/store/counter.ts), for the store adds the increment to it.
  const value = current === undefined || current === null ? 0 : parseFloatValue(current)
  const delta = args[2] === undefined ? null : parseIncrement(args[2])
  if (value === null || delta === null) throw new CommandError(ERRORS.notFloat)
  if (!Number.isFinite(value + delta)) throw new CommandError(ERRORS.nanOrInfinity)
  return bulk(store.increment(key, 0n, delta).value)
}

export const counterCommands: CommandTable = {
  incr: { handler: incr, arity: 2, write: true, keys: [1, 1, 1], summary: 'INCR key: adds 1; the new value' },
  decr: { handler: decr, arity: 2, write: true, keys: [1, 1, 1], summary: 'DECR key: subtracts 1; the new value' },
  incrby: { handler: incrby, arity: 3, write: true, keys: [1, 1, 1], summary: 'INCRBY key increment: the new value' },
  decrby: { handler: decrby, arity: 3, write: true, keys: [1, 1, 1], summary: 'DECRBY key decrement: the new value' },
  incrbyfloat: { handler: incrbyfloat, arity: 3, write: true, keys: [1, 1, 1], summary: 'INCRBYFLOAT key increment: the new value, as a string' }
}
