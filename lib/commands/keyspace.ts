import { array, bulk, bulkArray, integer, OK, type Encoded } from '../protocol/reply.js'
import { CommandError, integerArg, text, upper } from './args.js'
import { ERRORS } from './errors.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Keyspace: KEYS, SCAN, DBSIZE, FLUSHALL.

function keys (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulkArray(ctx.node.store.keys(text(args[1])))
}

/** SCAN cursor [MATCH pattern] [COUNT n] [TYPE type] */
function scan (ctx: CommandContext, args: Buffer[]): Encoded {
  const cursorText = text(args[1])
  if (!/^\d{1,19}$/.test(cursorText)) throw new CommandError(ERRORS.invalidCursor)
  const cursor = Number(cursorText)
  let count = 10
  let pattern: string | null = null
  let onlyStrings = true
  for (let i = 2; i < args.length; i += 2) {
    const option = upper(args[i])
    if (i + 1 >= args.length) throw new CommandError(ERRORS.syntax)
    if (option === 'MATCH') {
      pattern = text(args[i + 1])
      if (pattern === '*') pattern = null
    } else if (option === 'COUNT') {
      count = integerArg(args[i + 1])
      if (count < 1) throw new CommandError(ERRORS.syntax)
    } else if (option === 'TYPE') {
      onlyStrings = text(args[i + 1]).toLowerCase() === 'string' // every value here is a string
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  const step = ctx.node.store.scan(cursor, count, pattern)
  return array([bulk(String(step.cursor)), bulkArray(onlyStrings ? step.keys : [])])
}

function dbsize (ctx: CommandContext): Encoded {
  return integer(ctx.node.store.size)
}

/** FLUSHALL [ASYNC|SYNC]: both flush at once. */
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
  flushall: { handler: flushall, arity: -1, write: true, summary: 'FLUSHALL [ASYNC|SYNC]: delete every key' }
}
