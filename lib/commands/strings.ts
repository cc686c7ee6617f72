import { bulk, bulkArray, integer, NIL, OK, type Encoded } from '../protocol/reply.js'
import { CommandError, integerArg, keyOf, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Strings: GET, SET, MGET, MSET, DEL, EXISTS.

function get (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulk(ctx.node.store.get(keyOf(args[1]))?.value)
}

interface SetFlags {
  condition: 'NX' | 'XX' | null
  expiresAt: number | null
  keepTtl: boolean
  returnOld: boolean
}

/**
 * SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], read as
 * Redis does: a word may repeat (`NX NX`, `EX 1 EX 2`: the last number
 * counts), only a conflicting pair is a syntax error, and the number is
 * checked once every word has been read (so `EX x PX 1` is a syntax error).
 */
function parseSetFlags (args: Buffer[], now: number): SetFlags {
  const flags: SetFlags = { condition: null, expiresAt: null, keepTtl: false, returnOld: false }
  let unit: 'EX' | 'PX' | 'EXAT' | 'PXAT' | null = null
  let amount: Buffer | undefined
  for (let i = 3; i < args.length; i++) {
    const word = upper(args[i])
    if ((word === 'NX' || word === 'XX') && (flags.condition === null || flags.condition === word)) {
      flags.condition = word
    } else if (word === 'GET') {
      flags.returnOld = true
    } else if (word === 'KEEPTTL' && unit === null) {
      flags.keepTtl = true
    } else if ((word === 'EX' || word === 'PX' || word === 'EXAT' || word === 'PXAT') &&
      (unit === null || unit === word) && !flags.keepTtl && i + 1 < args.length) {
      unit = word
      amount = args[++i]
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  if (unit !== null) {
    const n = integerArg(amount)
    const ms = unit === 'EX' || unit === 'EXAT' ? n * 1000 : n
    const at = unit === 'EX' || unit === 'PX' ? now + ms : ms
    if (n <= 0 || !Number.isSafeInteger(at)) throw new CommandError(errorText('invalidExpire', 'set'))
    flags.expiresAt = at
  }
  return flags
}

function set (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  if (args.length === 3) { // the common case: no options, no need to look at the old value
    store.set(keyOf(args[1]), args[2] as Buffer)
    return OK
  }
  const flags = parseSetFlags(args, store.now())
  const key = keyOf(args[1])
  const old = store.get(key)
  const reply = flags.returnOld ? bulk(old?.value) : OK
  if ((flags.condition === 'NX' && old !== undefined) || (flags.condition === 'XX' && old === undefined)) {
    return flags.returnOld ? reply : NIL
  }
  const expiresAt = flags.expiresAt ?? (flags.keepTtl ? old?.expiresAt ?? 0 : 0)
  store.set(key, args[2] as Buffer, expiresAt)
  return reply
}

function mget (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  return bulkArray(args.slice(1).map(a => store.get(keyOf(a))?.value ?? null))
}

function mset (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length % 2 === 0) throw new CommandError(errorText('wrongArity', text(args[0]).toLowerCase()))
  for (let i = 1; i < args.length; i += 2) ctx.node.store.set(keyOf(args[i]), args[i + 1] as Buffer)
  return OK
}

function del (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.delete(keyOf(args[i]))) n++
  return integer(n)
}

function exists (ctx: CommandContext, args: Buffer[]): Encoded {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.node.store.get(keyOf(args[i])) !== undefined) n++
  return integer(n)
}

export const stringCommands: CommandTable = {
  get: { handler: get, arity: 2, keys: [1, 1, 1], summary: 'GET key: the value, or nil' },
  set: { handler: set, arity: -3, write: true, keys: [1, 1, 1], summary: 'SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]' },
  mget: { handler: mget, arity: -2, keys: [1, -1, 1], summary: 'MGET key [key ...]: the values, nil for missing keys' },
  mset: { handler: mset, arity: -3, write: true, keys: [1, -1, 2], summary: 'MSET key value [key value ...]' },
  del: { handler: del, arity: -2, write: true, keys: [1, -1, 1], summary: 'DEL key [key ...]: how many keys were removed' },
  exists: { handler: exists, arity: -2, keys: [1, -1, 1], summary: 'EXISTS key [key ...]: how many of the keys exist' }
}
