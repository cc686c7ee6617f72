import { array, bulk, bulkArray, integer, OK, simple, type Encoded } from '../protocol/reply.js'
import { CommandError, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import type { CommandContext, CommandTable, SlowlogEntry } from './types.js'

// PROTOCOL.md §SLOWLOG: the commands whose handler ran at least
// --slowlog-log-slower-than µs, newest first, at most --slowlog-max-len of
// them, as Redis 7's slowlog.c keeps them.

/** An entry keeps at most this many arguments; the last of them says how many more there were. */
const MAX_ARGS = 32
/** An argument is kept to this many bytes, then a note of how many more there were. */
const MAX_ARG_BYTES = 128
const REDACTED = Buffer.from('(redacted)', 'latin1')

/** Which arguments hold a secret, shown as `(redacted)` (Redis's redactClientCommandArgument). */
function secrets (name: string, args: Buffer[]): Set<number> | null {
  if (name === 'auth') return new Set(args.map((_, i) => i).slice(1))
  const hidden = new Set<number>()
  if (name === 'hello') {
    for (let i = 2; i < args.length; i++) {
      const option = upper(args[i])
      if (option === 'AUTH' && i + 2 < args.length) {
        hidden.add(i + 1).add(i + 2)
        i += 2
      } else if (option === 'SETNAME' && i + 1 < args.length) {
        i++
      } else {
        break
      }
    }
  } else if (name === 'config' && upper(args[1]) === 'SET') {
    for (let i = 2; i + 1 < args.length; i += 2) if (text(args[i]).toLowerCase() === 'requirepass') hidden.add(i + 1)
  }
  return hidden.size === 0 ? null : hidden
}

/** The arguments as an entry keeps them: copies (never views into the parser's buffers), cut as Redis cuts them. */
function kept (name: string, args: Buffer[]): Buffer[] {
  const argc = Math.min(args.length, MAX_ARGS)
  const hidden = secrets(name, args)
  const out: Buffer[] = new Array<Buffer>(argc)
  for (let j = 0; j < argc; j++) {
    const arg = args[j] as Buffer
    if (argc !== args.length && j === argc - 1) {
      out[j] = Buffer.from(`... (${args.length - argc + 1} more arguments)`, 'latin1')
    } else if (hidden?.has(j) === true) {
      out[j] = REDACTED
    } else if (arg.length > MAX_ARG_BYTES) {
      out[j] = Buffer.concat([arg.subarray(0, MAX_ARG_BYTES), Buffer.from(`... (${arg.length - MAX_ARG_BYTES} more bytes)`, 'latin1')])
    } else {
      out[j] = Buffer.from(arg)
    }
  }
  return out
}

/**
 * Adds an entry for a command that ran `usec` µs (the caller has compared it
 * with --slowlog-log-slower-than), then drops the oldest past --slowlog-max-len.
 * Ids count every entry made, dropped ones too.
 */
export function recordSlow (ctx: CommandContext, name: string, args: Buffer[], usec: number): void {
  const stats = ctx.node.stats
  const log = stats.slowlog
  const max = ctx.node.options.slowlogMaxLen
  const id = stats.slowlogNextId++
  if (max > 0) {
    const session = ctx.session
    log.push({ id, time: Math.floor(Date.now() / 1000), duration: Math.floor(usec), args: kept(name, args), addr: session.addr, name: session.name })
  }
  if (log.length > max) log.splice(0, log.length - max)
}

function describe (entry: SlowlogEntry): Encoded {
  return array([
    integer(entry.id),
    integer(entry.time),
    integer(entry.duration),
    bulkArray(entry.args),
    bulk(entry.addr),
    bulk(entry.name)
  ])
}

/** SLOWLOG GET's count: an integer, -1 or more; -1 is every entry. Redis's range is a C long. */
function countOf (arg: Buffer | undefined): number {
  const given = text(arg)
  if (!/^(0|-?[1-9]\d{0,18})$/.test(given)) throw new CommandError(ERRORS.slowlogCount)
  const n = BigInt(given)
  if (n < -1n || n > 9223372036854775807n) throw new CommandError(ERRORS.slowlogCount)
  return n === -1n ? Infinity : Number(n)
}

const HELP = [
  'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
  'HELP',
  '    Prints this help.'
]

/** SLOWLOG GET [count] | LEN | RESET | HELP, checked in Redis's order: the subcommand, its arity, its arguments. */
function slowlog (ctx: CommandContext, args: Buffer[]): Encoded {
  const sub = upper(args[1])
  const log = ctx.node.stats.slowlog
  if (sub !== 'GET' && sub !== 'LEN' && sub !== 'RESET' && sub !== 'HELP') {
    throw new CommandError(errorText('unknownSubcommand', text(args[1]), 'SLOWLOG'))
  }
  if (sub !== 'GET' && args.length !== 2) throw new CommandError(errorText('wrongArity', `slowlog|${sub.toLowerCase()}`))
  switch (sub) {
    case 'LEN': return integer(log.length)
    case 'RESET':
      log.length = 0
      return OK
    case 'HELP': return array(HELP.map(simple))
  }
  if (args.length > 3) throw new CommandError(errorText('subcommandSyntax', text(args[1]), 'SLOWLOG'))
  const count = args.length === 3 ? countOf(args[2]) : 10
  const out: Encoded[] = []
  for (let i = log.length - 1; i >= 0 && out.length < count; i--) out.push(describe(log[i] as SlowlogEntry))
  return array(out)
}

export const slowlogCommands: CommandTable = {
  slowlog: { handler: slowlog, arity: -2, summary: 'SLOWLOG GET [count] | LEN | RESET | HELP: the commands that ran slower than --slowlog-log-slower-than' }
}
