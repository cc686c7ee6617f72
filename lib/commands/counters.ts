import { bulk, integer, type Encoded } from '../protocol/reply.js'
import { addInt, inInt64, negInt, parseFloatValue, parseInt64, type Int } from '../store/numbers.js'
import { CommandError, keyOf } from './args.js'
import { ERRORS } from './errors.js'
import { stringOf } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Counters: INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT. Each adds to
// this node's contribution to the key, so increments made at the same time at
// other nodes are added, not overwritten.

function int64Arg (arg: Buffer | undefined): Int {
  const n = arg === undefined ? null : parseInt64(arg)
  if (n === null) throw new CommandError(ERRORS.notInteger)
  return n
}

/** Adds `delta` to the key's integer value (0 when missing); the new value. */
function incrementBy (ctx: CommandContext, keyArg: Buffer | undefined, delta: Int): Encoded {
  let result: Int = 0
  ctx.node.store.increment(keyOf(keyArg), delta, 0, (current, entry) => {
    stringOf(entry) // WRONGTYPE for a hash or set
    const value = current === null ? 0 : parseInt64(current)
    if (value === null) throw new CommandError(ERRORS.notInteger)
    result = addInt(value, delta)
    if (!inInt64(result)) throw new CommandError(ERRORS.overflow)
  })
  return integer(result)
}

const incr = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], 1)
const decr = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], -1)
const incrby = (ctx: CommandContext, args: Buffer[]): Encoded => incrementBy(ctx, args[1], int64Arg(args[2]))

function decrby (ctx: CommandContext, args: Buffer[]): Encoded {
  const delta = int64Arg(args[2])
  if (delta === -9223372036854775808n) throw new CommandError(ERRORS.decrementOverflow)
  return incrementBy(ctx, args[1], negInt(delta))
}

function incrbyfloat (ctx: CommandContext, args: Buffer[]): Encoded {
  const delta = args[2] === undefined ? null : parseFloatValue(args[2])
  // An integer increment adds as an integer: Redis's long double holds every
  // sum of two 64-bit integers exactly (-9223372036854775808 plus
  // 9223372036854775807 is -1 there), a double does not.
  const exact = args[2] === undefined ? null : parseInt64(args[2])
  const entry = ctx.node.store.increment(keyOf(args[1]), exact ?? 0, exact === null ? delta ?? 0 : 0, (current, held) => {
    stringOf(held) // WRONGTYPE for a hash or set
    const value = current === null ? 0 : parseFloatValue(current)
    if (value === null || delta === null) throw new CommandError(ERRORS.notFloat)
    if (!Number.isFinite(value + delta)) throw new CommandError(ERRORS.nanOrInfinity)
  })
  return bulk(entry.value)
}

export const counterCommands: CommandTable = {
  incr: { handler: incr, arity: 2, write: true, keys: [1, 1, 1], summary: 'INCR key: adds 1; the new value' },
  decr: { handler: decr, arity: 2, write: true, keys: [1, 1, 1], summary: 'DECR key: subtracts 1; the new value' },
  incrby: { handler: incrby, arity: 3, write: true, keys: [1, 1, 1], summary: 'INCRBY key increment: the new value' },
  decrby: { handler: decrby, arity: 3, write: true, keys: [1, 1, 1], summary: 'DECRBY key decrement: the new value' },
  incrbyfloat: { handler: incrbyfloat, arity: 3, write: true, keys: [1, 1, 1], summary: 'INCRBYFLOAT key increment: the new value, as a string' }
}
