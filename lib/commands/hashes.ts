import { array, bulk, bulkArray, EMPTY_ARRAY, integer, OK, type Encoded } from '../protocol/reply.js'
import { fieldValue, present, randomPresent, type HashState } from '../store/hash.js'
import { addInt, inInt64, parseFloatValue, parseInt64, type Int } from '../store/numbers.js'
import { checkScanCursor, LONG_MAX, randomCount, randomPicks, scanOptions } from './collection-args.js'
import { globMatch } from '../store/glob.js'
import { CommandError, keyOf, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import { hashOf } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Hashes: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HLEN, HSTRLEN,
// HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN, with
// Redis 7.0's replies and errors. Fields are latin1 strings, as keys are; a
// hash lists its fields in the order they were added, as a small Redis hash does.

const fieldOf = keyOf

/** The hash at args[1] for a read (undefined: no key); WRONGTYPE for a string. */
function readHash (ctx: CommandContext, args: Buffer[]): HashState | undefined {
  return hashOf(ctx.node.store.read(keyOf(args[1])))
}

/** The field's value (a latin1 string or bytes), or null. */
function valueOf (hash: HashState | undefined, field: string): Buffer | string | null {
  const f = hash?.fields.get(field)
  return f === undefined ? null : fieldValue(f)
}

/** The pairs of HSET/HMSET; an odd count is an arity error (before the key is looked at, as Redis). */
function pairsOf (args: Buffer[]): Array<[string, Buffer]> {
  if (args.length % 2 === 1) throw new CommandError(errorText('wrongArity', text(args[0]).toLowerCase()))
  const pairs: Array<[string, Buffer]> = []
  for (let i = 2; i < args.length; i += 2) pairs.push([fieldOf(args[i]), args[i + 1] as Buffer])
  return pairs
}

/** HSET key field value [field value ...]: how many fields were added. */
function hset (ctx: CommandContext, args: Buffer[]): Encoded {
  const pairs = pairsOf(args)
  const key = keyOf(args[1])
  hashOf(ctx.node.store.get(key))
  return integer(ctx.node.store.hset(key, pairs))
}

/** HMSET key field value [field value ...]: +OK. */
function hmset (ctx: CommandContext, args: Buffer[]): Encoded {
  hset(ctx, args)
  return OK
}

/** HSETNX key field value: 1 if set, 0 if the field exists. */
function hsetnx (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  const field = fieldOf(args[2])
  const hash = hashOf(ctx.node.store.get(key))
  if (valueOf(hash, field) !== null) return integer(0)
  ctx.node.store.hset(key, [[field, args[3] as Buffer]])
  return integer(1)
}

function hget (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulk(valueOf(readHash(ctx, args), fieldOf(args[2])))
}

function hmget (ctx: CommandContext, args: Buffer[]): Encoded {
  const hash = readHash(ctx, args)
  return bulkArray(args.slice(2).map(a => valueOf(hash, fieldOf(a))))
}

/** HDEL key field [field ...]: how many were removed. */
function hdel (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  if (hashOf(ctx.node.store.get(key)) === undefined) return integer(0)
  return integer(ctx.node.store.hdel(key, args.slice(2).map(fieldOf)))
}

function hlen (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(readHash(ctx, args)?.live ?? 0)
}

function hstrlen (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(valueOf(readHash(ctx, args), fieldOf(args[2]))?.length ?? 0)
}

function hexists (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(valueOf(readHash(ctx, args), fieldOf(args[2])) === null ? 0 : 1)
}

/** Every present field, in order: its name and value. */
function * presentFields (hash: HashState | undefined): Iterable<[string, Buffer | string]> {
  if (hash === undefined) return
  for (const [name, f] of hash.fields) {
    if (present(f)) yield [name, fieldValue(f) as Buffer | string]
  }
}

function hkeys (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulkArray([...presentFields(readHash(ctx, args))].map(([name]) => name))
}

function hvals (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulkArray([...presentFields(readHash(ctx, args))].map(([, value]) => value))
}

function hgetall (ctx: CommandContext, args: Buffer[]): Encoded {
  const out: Array<string | Buffer> = []
  for (const [name, value] of presentFields(readHash(ctx, args))) out.push(name, value)
  return bulkArray(out)
}

/** HINCRBY key field increment: the field's new value (PROTOCOL.md §Hashes: increments at different nodes add up). */
function hincrby (ctx: CommandContext, args: Buffer[]): Encoded {
  const delta = parseInt64(args[3] as Buffer)
  if (delta === null) throw new CommandError(ERRORS.notInteger)
  const key = keyOf(args[1])
  hashOf(ctx.node.store.get(key))
  let result: Int = 0
  ctx.node.store.hincrement(key, fieldOf(args[2]), delta, 0, current => {
    const value = current === null ? 0 : parseInt64(current)
    if (value === null) throw new CommandError(ERRORS.hashNotInteger)
    result = addInt(value, delta)
    if (!inInt64(result)) throw new CommandError(ERRORS.overflow)
  })
  return integer(result)
}

/** HINCRBYFLOAT key field increment: the new value, as a string. */
function hincrbyfloat (ctx: CommandContext, args: Buffer[]): Encoded {
  const delta = parseFloatValue(args[3] as Buffer)
  if (delta === null) throw new CommandError(ERRORS.notFloat)
  if (!Number.isFinite(delta)) throw new CommandError(ERRORS.nanOrInfinityArg)
  const key = keyOf(args[1])
  hashOf(ctx.node.store.get(key))
  const value = ctx.node.store.hincrement(key, fieldOf(args[2]), 0, delta, current => {
    const v = current === null ? 0 : parseFloatValue(current)
    if (v === null) throw new CommandError(ERRORS.hashNotFloat)
    if (!Number.isFinite(v + delta)) throw new CommandError(ERRORS.nanOrInfinity)
  })
  return bulk(value)
}

/** HRANDFIELD key [count [WITHVALUES]] (PROTOCOL.md §HRANDFIELD). */
function hrandfield (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length === 2) {
    const hash = readHash(ctx, args)
    return bulk(hash === undefined ? null : randomPresent(hash))
  }
  const n = randomCount(args[2])
  const withValues = args.length === 4 && upper(args[3]) === 'WITHVALUES'
  if (args.length >= 4 && !withValues) throw new CommandError(ERRORS.syntax)
  const abs = n < 0n ? -n : n
  if (withValues && abs > LONG_MAX / 2n) throw new CommandError(ERRORS.outOfRange)
  const fields = [...presentFields(readHash(ctx, args))]
  if (fields.length === 0 || abs === 0n) return EMPTY_ARRAY
  const out: Array<string | Buffer> = []
  const size = ([name, value]: [string, Buffer | string]): number => name.length + (withValues ? value.length : 0) + 32 // with the framing
  for (const [name, value] of randomPicks(fields, n, size)) withValues ? out.push(name, value) : out.push(name)
  return bulkArray(out)
}

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]: the whole hash in one reply,
 * cursor 0, as Redis answers for a small hash (PROTOCOL.md §HSCAN, and §Differences from Redis).
 */
function hscan (ctx: CommandContext, args: Buffer[]): Encoded {
  checkScanCursor(args[2])
  const hash = readHash(ctx, args)
  if (hash === undefined) return array([bulk('0'), EMPTY_ARRAY])
  const { pattern } = scanOptions(args, 3)
  const out: Array<string | Buffer> = []
  for (const [name, value] of presentFields(hash)) if (pattern === null || globMatch(pattern, name)) out.push(name, value)
  return array([bulk('0'), bulkArray(out)])
}

/** Redis keeps a hash as a listpack while it has at most 128 fields of at most 64 bytes (names and values). */
export function hashEncoding (hash: HashState): string {
  if (hash.live > 128) return 'hashtable'
  for (const [name, value] of presentFields(hash)) if (name.length > 64 || value.length > 64) return 'hashtable'
  return 'listpack'
}

const k: [number, number, number] = [1, 1, 1]

export const hashCommands: CommandTable = {
  hset: { handler: hset, arity: -4, write: true, keys: k, summary: 'HSET key field value [field value ...]: how many fields were added' },
  hmset: { handler: hmset, arity: -4, write: true, keys: k, summary: 'HMSET key field value [field value ...]: +OK' },
  hsetnx: { handler: hsetnx, arity: 4, write: true, keys: k, summary: 'HSETNX key field value: 1 if set, 0 if the field exists' },
  hget: { handler: hget, arity: 3, keys: k, summary: "HGET key field: the field's value, or nil" },
  hmget: { handler: hmget, arity: -3, keys: k, summary: 'HMGET key field [field ...]: the values, nil for missing fields' },
  hdel: { handler: hdel, arity: -3, write: true, keys: k, summary: 'HDEL key field [field ...]: how many fields were removed' },
  hlen: { handler: hlen, arity: 2, keys: k, summary: 'HLEN key: the number of fields' },
  hstrlen: { handler: hstrlen, arity: 3, keys: k, summary: "HSTRLEN key field: the length of the field's value, 0 if missing" },
  hexists: { handler: hexists, arity: 3, keys: k, summary: 'HEXISTS key field: 1 if the field exists, else 0' },
  hkeys: { handler: hkeys, arity: 2, keys: k, summary: 'HKEYS key: the field names' },
  hvals: { handler: hvals, arity: 2, keys: k, summary: 'HVALS key: the values' },
  hgetall: { handler: hgetall, arity: 2, keys: k, summary: 'HGETALL key: field, value, field, value, ...' },
  hincrby: { handler: hincrby, arity: 4, write: true, keys: k, summary: "HINCRBY key field increment: the field's new value" },
  hincrbyfloat: { handler: hincrbyfloat, arity: 4, write: true, keys: k, summary: "HINCRBYFLOAT key field increment: the field's new value, as a string" },
  hrandfield: { handler: hrandfield, arity: -2, keys: k, summary: 'HRANDFIELD key [count [WITHVALUES]]: random fields' },
  hscan: { handler: hscan, arity: -3, keys: k, summary: 'HSCAN key cursor [MATCH pattern] [COUNT count]: [0, field, value, ...]' }
}
