import { array, bulk, bulkArray, integer, NIL, OK, simple, type Encoded } from '../protocol/reply.js'
import { fieldBytes } from '../store/hash.js'
import { BUCKETS } from '../store/store.js'
import { CommandError, integerArg, keyOf, text, upper } from './args.js'
import { scanOptions } from './collection-args.js'
import { ERRORS } from './errors.js'
import { typeName } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Keyspace: KEYS, SCAN, DBSIZE, FLUSHALL, FLUSHDB, TYPE, TOUCH,
// UNLINK, RANDOMKEY, RENAME, RENAMENX, COPY.

/** TYPE key: `string`, `hash`, `set`, or `none`. */
function type (ctx: CommandContext, args: Buffer[]): Encoded {
  return simple(typeName(ctx.node.store.read(keyOf(args[1]))))
}

/** TOUCH key [key ...]: how many exist (no access times are kept, so nothing else). */
function touch (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.read(keyOf(args[i])) !== undefined) n++
  return integer(n)
}

/** UNLINK key [key ...]: as DEL (deleting is never slow here). */
function unlink (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.delete(keyOf(args[i]))) n++
  return integer(n)
}

/**
 * RANDOMKEY: a key picked at random, or nil. SCAN steps from a random bucket,
 * wrapping once round; a random key of the first non-empty step. Keys in sparse
 * buckets are likelier than others, as Redis's own pick is not uniform either.
 */
function randomkey (ctx: CommandContext): Encoded {
  const store = ctx.node.store
  if (store.size === 0) return NIL
  const start = Math.floor(Math.random() * BUCKETS)
  let cursor = start
  let wrapped = false
  for (;;) {
    const step = store.scan(cursor, 1, null)
    if (step.keys.length > 0) return bulk(step.keys[Math.floor(Math.random() * step.keys.length)] ?? null)
    if (step.cursor === 0) {
      if (wrapped || start === 0) return NIL // only expired keys not yet reclaimed
      wrapped = true
    } else if (wrapped && step.cursor >= start) {
      return NIL
    }
    cursor = step.cursor
  }
}

/**
 * Writes the source's value and expiry to the destination as one local write
 * (it replicates as any SET does); RENAME then deletes the source, a second
 * write (PROTOCOL.md §RENAME). The entry is read and written in one call.
 */
function copyEntry (ctx: CommandContext, from: string, to: string): void {
  const store = ctx.node.store
  const entry = store.get(from)
  if (entry === undefined || entry.value === null) return
  if (entry.hash === undefined) {
    store.set(to, entry.value, entry.expiresAt)
    return
  }
  // A hash or set: the destination goes first (a hash or set is deleted field
  // by field, a string replaced by the new hash), then the source's fields or
  // members are written, then its expiry (PROTOCOL.md §Hashes, §Sets).
  const expiresAt = entry.expiresAt
  const set = entry.hash.set
  const names: string[] = []
  const pairs: Array<[string, Buffer]> = []
  for (const [name, f] of entry.hash.fields) {
    const value = fieldBytes(f)
    if (value === null) continue
    if (set) names.push(name)
    else pairs.push([name, value])
  }
  if (store.get(to)?.hash !== undefined) store.delete(to)
  if (set) store.sadd(to, names)
  else store.hset(to, pairs)
  if (expiresAt !== 0) store.setExpiry(to, expiresAt)
}

/** RENAME key newkey: +OK; RENAMENX key newkey: 1, or 0 if newkey exists. */
function renameBy (nx: boolean) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const store = ctx.node.store
    const from = keyOf(args[1])
    const to = keyOf(args[2])
    if (store.get(from) === undefined) throw new CommandError(ERRORS.noSuchKey)
    if (from === to) return nx ? integer(0) : OK
    if (nx && store.get(to) !== undefined) return integer(0)
    copyEntry(ctx, from, to)
    store.delete(from)
    return nx ? integer(1) : OK
  }
}

/** COPY source destination [DB 0] [REPLACE]: 1 if copied, 0 if the source is missing or the destination exists. */
function copy (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  let replace = false
  for (let i = 3; i < args.length; i++) {
    const option = upper(args[i])
    if (option === 'REPLACE') {
      replace = true
    } else if (option === 'DB' && i + 1 < args.length) {
      if (integerArg(args[++i]) !== 0) throw new CommandError(ERRORS.dbIndex) // one database
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  const from = keyOf(args[1])
  const to = keyOf(args[2])
  if (from === to) throw new CommandError(ERRORS.sameObject)
  if (store.read(from) === undefined) return integer(0) // COPY reads its source, as GET does
  if (!replace && store.get(to) !== undefined) return integer(0)
  copyEntry(ctx, from, to)
  return integer(1)
}

function keys (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulkArray(ctx.node.store.keys(text(args[1])))
}

/** SCAN cursor [MATCH pattern] [COUNT n] [TYPE type] */
function scan (ctx: CommandContext, args: Buffer[]): Encoded {
  const cursorText = text(args[1])
  if (!/^\d{1,19}$/.test(cursorText)) throw new CommandError(ERRORS.invalidCursor)
  const cursor = Number(cursorText)
  const { pattern, count, type } = scanOptions(args, 2, true)
  const step = ctx.node.store.scan(cursor, count, pattern, type === null ? undefined : e => typeName(e) === type)
  return array([bulk(String(step.cursor)), bulkArray(step.keys)])
}

function dbsize (ctx: CommandContext): Encoded {
  return integer(ctx.node.store.size)
}

/** FLUSHALL [ASYNC|SYNC] and FLUSHDB [ASYNC|SYNC] (one database): both flush at once. */
function flushall (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length > 2 || (args.length === 2 && !['ASYNC', 'SYNC'].includes(upper(args[1])))) {
    throw new CommandError(ERRORS.syntax)
  }
  ctx.node.store.flushAll()
  return OK
}

export const keyspaceCommands: CommandTable = {
  keys: { handler: keys, arity: 2, summary: 'KEYS pattern: every key matching a glob pattern' },
  scan: { handler: scan, arity: -2, summary: 'SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: [next cursor, keys]' },
  dbsize: { handler: dbsize, arity: 1, summary: 'DBSIZE: the number of keys' },
  flushall: { handler: flushall, arity: -1, write: true, summary: 'FLUSHALL [ASYNC|SYNC]: delete every key' },
  flushdb: { handler: flushall, arity: -1, write: true, summary: 'FLUSHDB [ASYNC|SYNC]: delete every key (there is one database)' },
  type: { handler: type, arity: 2, keys: [1, 1, 1], summary: 'TYPE key: string, hash, set, or none' },
  touch: { handler: touch, arity: -2, keys: [1, -1, 1], summary: 'TOUCH key [key ...]: how many of the keys exist' },
  unlink: { handler: unlink, arity: -2, write: true, keys: [1, -1, 1], summary: 'UNLINK key [key ...]: as DEL' },
  randomkey: { handler: randomkey, arity: 1, summary: 'RANDOMKEY: a random key, or nil' },
  rename: { handler: renameBy(false), arity: 3, write: true, keys: [1, 2, 1], summary: 'RENAME key newkey: move the value and its expiry' },
  renamenx: { handler: renameBy(true), arity: 3, write: true, keys: [1, 2, 1], summary: 'RENAMENX key newkey: 1 if moved, 0 if newkey exists' },
  copy: { handler: copy, arity: -3, write: true, keys: [1, 2, 1], summary: 'COPY source destination [DB 0] [REPLACE]: 1 if copied' }
}
