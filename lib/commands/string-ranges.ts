import { bulk, integer, type Encoded } from '../protocol/reply.js'
import { bufferOf, copyBytes } from '../store/bytes.js'
import { CommandError, integerArg, keyOf } from './args.js'
import { ERRORS } from './errors.js'
import { stringOf } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Strings: APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE. A change
// keeps the key's expiry, as in Redis. Entries are the store's: read, build the
// new value, then write (store.set copies it).

const EMPTY = Buffer.alloc(0)

/** A value may not grow past --max-bulk-len (Redis's proto-max-bulk-len). */
function checkLength (ctx: CommandContext, length: number): void {
  if (length > ctx.node.options.maxBulkLen) throw new CommandError(ERRORS.stringTooLong)
}

/** APPEND key value: the length after appending; a missing key is created. */
function append (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const key = keyOf(args[1])
  const tail = args[2] as Buffer
  const entry = store.get(key)
  stringOf(entry)
  if (entry === undefined || entry.value === null) {
    store.set(key, tail)
    return integer(tail.length)
  }
  checkLength(ctx, entry.value.length + tail.length)
  const next = Buffer.concat([bufferOf(entry.value), tail])
  store.set(key, next, entry.expiresAt)
  return integer(next.length)
}

/** STRLEN key: the value's length in bytes; 0 for a missing key. */
function strlen (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(stringOf(ctx.node.store.read(keyOf(args[1])))?.length ?? 0)
}

/**
 * GETRANGE key start end (and SUBSTR): bytes start..end inclusive; negative
 * counts from the end. Redis's clamping, quirks included: an end before the
 * start of the value becomes 0, so `GETRANGE k 0 -100` is the first byte.
 */
function getrange (ctx: CommandContext, args: Buffer[]): Encoded {
  let start = integerArg(args[2])
  let end = integerArg(args[3])
  const value = stringOf(ctx.node.store.read(keyOf(args[1]))) ?? EMPTY
  const length = value.length
  if (start < 0 && end < 0 && start > end) return bulk(EMPTY)
  if (start < 0) start = Math.max(0, length + start)
  if (end < 0) end = Math.max(0, length + end)
  if (end >= length) end = length - 1
  if (start > end || length === 0) return bulk(EMPTY)
  return bulk(typeof value === 'string' ? value.slice(start, end + 1) : value.subarray(start, end + 1))
}

/** SETRANGE key offset value: overwrite from offset, padding with zero bytes; the new length. */
function setrange (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const offset = integerArg(args[2])
  if (offset < 0) throw new CommandError(ERRORS.offsetRange)
  const key = keyOf(args[1])
  const patch = args[3] as Buffer
  const entry = store.get(key)
  stringOf(entry)
  const old = entry?.value ?? null
  // Writing nothing changes nothing, and creates no key.
  if (patch.length === 0) return integer(old?.length ?? 0)
  checkLength(ctx, offset + patch.length)
  const next = Buffer.alloc(Math.max(old?.length ?? 0, offset + patch.length)) // zero-filled
  if (old !== null) copyBytes(old, next, 0)
  patch.copy(next, offset)
  store.set(key, next, entry?.expiresAt ?? 0)
  return integer(next.length)
}

export const stringRangeCommands: CommandTable = {
  append: { handler: append, arity: 3, write: true, keys: [1, 1, 1], summary: 'APPEND key value: the length after appending' },
  strlen: { handler: strlen, arity: 2, keys: [1, 1, 1], summary: 'STRLEN key: the length of the value, 0 if missing' },
  getrange: { handler: getrange, arity: 4, keys: [1, 1, 1], summary: 'GETRANGE key start end: bytes start..end (inclusive, negative from the end)' },
  substr: { handler: getrange, arity: 4, keys: [1, 1, 1], summary: 'SUBSTR key start end: as GETRANGE' },
  setrange: { handler: setrange, arity: 4, write: true, keys: [1, 1, 1], summary: 'SETRANGE key offset value: overwrite from offset (zero-padded); the new length' }
}
