import { bulk, bulkArray, integer, NIL, OK, type Encoded } from '../protocol/reply.js'
import { CommandError, integerArg, keyOf, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import { stringOf } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Strings: GET, SET, GETEX, GETSET, GETDEL, SETNX, SETEX, PSETEX,
// MGET, MSET, MSETNX, DEL, EXISTS. Ranges (APPEND, GETRANGE, ...) are in string-ranges.ts.

function get (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulk(stringOf(ctx.node.store.read(keyOf(args[1]))))
}

/** The options of SET and GETEX as parsed, before the expiry's number is read. */
interface StringOptions {
  condition: 'NX' | 'XX' | null
  returnOld: boolean
  keepTtl: boolean
  persist: boolean
  /** The last of EX/PX/EXAT/PXAT given, and its argument (read once the syntax is known good). */
  unit: ExpiryUnit | null
  amount: Buffer | undefined
}

type ExpiryUnit = 'EX' | 'PX' | 'EXAT' | 'PXAT'
const UNITS: readonly string[] = ['EX', 'PX', 'EXAT', 'PXAT']

/**
 * SET's options from args[3] (`set`) or GETEX's from args[2] (`getex`), as
 * Redis parses them: a word may repeat (the last EX... wins), but not combine
 * with a conflicting one: NX with XX, two different units, a unit with
 * KEEPTTL (SET) or PERSIST (GETEX). Syntax first, the number afterwards
 * (PROTOCOL.md §SET, §GETEX).
 */
function parseStringOptions (args: Buffer[], command: 'set' | 'getex'): StringOptions {
  const o: StringOptions = { condition: null, returnOld: false, keepTtl: false, persist: false, unit: null, amount: undefined }
  const isSet = command === 'set'
  for (let i = isSet ? 3 : 2; i < args.length; i++) {
    const word = upper(args[i])
    if (isSet && (word === 'NX' || word === 'XX') && (o.condition === null || o.condition === word)) {
      o.condition = word
    } else if (isSet && word === 'GET') {
      o.returnOld = true
    } else if (isSet && word === 'KEEPTTL' && o.unit === null) {
      o.keepTtl = true
    } else if (!isSet && word === 'PERSIST' && o.unit === null) {
      o.persist = true
    } else if (UNITS.includes(word) && !o.keepTtl && !o.persist && (o.unit === null || o.unit === word) && i + 1 < args.length) {
      o.unit = word as ExpiryUnit
      o.amount = args[++i]
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  return o
}

/** The absolute expiry (ms) that EX/PX/EXAT/PXAT give, or null without one; Redis's checks and errors. */
function expiryOf (o: StringOptions, now: number, command: string): number | null {
  if (o.unit === null) return null
  const n = integerArg(o.amount)
  const ms = o.unit === 'EX' || o.unit === 'EXAT' ? n * 1000 : n
  const at = o.unit === 'EX' || o.unit === 'PX' ? now + ms : ms
  if (n <= 0 || !Number.isSafeInteger(at)) throw new CommandError(errorText('invalidExpire', command))
  return at
}

function set (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  if (args.length === 3) { // the common case: no options, no need to look at the old value
    store.set(keyOf(args[1]), args[2] as Buffer)
    return OK
  }
  const options = parseStringOptions(args, 'set')
  const at = expiryOf(options, store.now(), 'set')
  const key = keyOf(args[1])
  const old = options.returnOld ? store.read(key) : store.get(key) // SET ... GET reads, as GET does
  const reply = options.returnOld ? bulk(stringOf(old)) : OK
  if ((options.condition === 'NX' && old !== undefined) || (options.condition === 'XX' && old === undefined)) {
    return options.returnOld ? reply : NIL
  }
  const expiresAt = at ?? (options.keepTtl ? old?.expiresAt ?? 0 : 0)
  store.set(key, args[2] as Buffer, expiresAt)
  return reply
}

/** GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: the value; the expiry changed as asked. */
function getex (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const options = parseStringOptions(args, 'getex')
  const key = keyOf(args[1])
  const entry = store.read(key)
  if (entry === undefined) return NIL // as Redis: a missing key is nil before the number is read
  stringOf(entry)
  const at = expiryOf(options, store.now(), 'getex')
  const reply = bulk(entry.value) // encoded now: the entry is the store's, and changes below
  if (at !== null) store.setExpiry(key, at) // a time already past deletes the key
  else if (options.persist && entry.expiresAt !== 0) store.setExpiry(key, 0)
  return reply
}

/** GETSET key value: the old value (or nil); the key set without expiry. */
function getset (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  const reply = bulk(stringOf(ctx.node.store.read(key)))
  ctx.node.store.set(key, args[2] as Buffer)
  return reply
}

/** GETDEL key: the value (or nil), and the key deleted. */
function getdel (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  const entry = ctx.node.store.read(key)
  if (entry === undefined) return NIL
  const reply = bulk(stringOf(entry))
  ctx.node.store.delete(key)
  return reply
}

/** SETNX key value: 1 if set, 0 if the key exists. */
function setnx (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  if (ctx.node.store.get(key) !== undefined) return integer(0)
  ctx.node.store.set(key, args[2] as Buffer)
  return integer(1)
}

/** SETEX key seconds value and PSETEX key milliseconds value. */
function setWithTtl (unitMs: number) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const store = ctx.node.store
    const n = integerArg(args[2])
    const at = store.now() + n * unitMs
    if (n <= 0 || !Number.isSafeInteger(at)) throw new CommandError(errorText('invalidExpire', text(args[0]).toLowerCase()))
    store.set(keyOf(args[1]), args[3] as Buffer, at)
    return OK
  }
}

function mget (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  // As Redis: a key of another type reads as nil here.
  return bulkArray(args.slice(1).map(a => {
    const e = store.read(keyOf(a))
    return e === undefined || e.hash !== undefined ? null : e.value
  }))
}

function mset (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length % 2 === 0) throw new CommandError(errorText('wrongArity', text(args[0]).toLowerCase()))
  for (let i = 1; i < args.length; i += 2) ctx.node.store.set(keyOf(args[i]), args[i + 1] as Buffer)
  return OK
}

/** MSETNX key value [key value ...]: all set (1) only if none exists, else none (0). */
function msetnx (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length % 2 === 0) throw new CommandError(errorText('wrongArity', 'msetnx'))
  const store = ctx.node.store
  for (let i = 1; i < args.length; i += 2) if (store.get(keyOf(args[i])) !== undefined) return integer(0)
  for (let i = 1; i < args.length; i += 2) store.set(keyOf(args[i]), args[i + 1] as Buffer)
  return integer(1)
}

function del (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.delete(keyOf(args[i]))) n++
  return integer(n)
}

function exists (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.read(keyOf(args[i])) !== undefined) n++
  return integer(n)
}

export const stringCommands: CommandTable = {
  get: { handler: get, arity: 2, keys: [1, 1, 1], summary: 'GET key: the value, or nil' },
  set: { handler: set, arity: -3, write: true, keys: [1, 1, 1], summary: 'SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]' },
  getex: { handler: getex, arity: -2, write: true, keys: [1, 1, 1], summary: 'GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: the value, its expiry changed' },
  getset: { handler: getset, arity: 3, write: true, keys: [1, 1, 1], summary: 'GETSET key value: the old value, or nil' },
  getdel: { handler: getdel, arity: 2, write: true, keys: [1, 1, 1], summary: 'GETDEL key: the value, or nil; the key is deleted' },
  setnx: { handler: setnx, arity: 3, write: true, keys: [1, 1, 1], summary: 'SETNX key value: 1 if set, 0 if the key exists' },
  setex: { handler: setWithTtl(1000), arity: 4, write: true, keys: [1, 1, 1], summary: 'SETEX key seconds value' },
  psetex: { handler: setWithTtl(1), arity: 4, write: true, keys: [1, 1, 1], summary: 'PSETEX key milliseconds value' },
  mget: { handler: mget, arity: -2, keys: [1, -1, 1], summary: 'MGET key [key ...]: the values, nil for missing keys' },
  mset: { handler: mset, arity: -3, write: true, keys: [1, -1, 2], summary: 'MSET key value [key value ...]' },
  msetnx: { handler: msetnx, arity: -3, write: true, keys: [1, -1, 2], summary: 'MSETNX key value [key value ...]: 1 if all were set, 0 (none set) if any exists' },
  del: { handler: del, arity: -2, write: true, keys: [1, -1, 1], summary: 'DEL key [key ...]: how many keys were removed' },
  exists: { handler: exists, arity: -2, keys: [1, -1, 1], summary: 'EXISTS key [key ...]: how many of the keys exist' }
}
