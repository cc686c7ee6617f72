import { array, bulk, bulkArray, EMPTY_ARRAY, integer, OK, simple, type Encoded } from '../protocol/reply.js'
import { globMatchNoCase } from '../store/glob.js'
import { CommandError, quotedSubcommand, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import { info } from './info.js'
import type { CommandContext, CommandTable, NodeContext } from './types.js'

// PROTOCOL.md §Server: INFO, CONFIG GET and SET, COMMAND.

/** What CONFIG GET knows: enough for redis-cli, redis-benchmark and client libraries. */
function configValues (node: NodeContext): Record<string, string> {
  const o = node.options
  const { host, port } = node.address()
  return {
    bind: host,
    port: String(port),
    maxclients: String(o.maxclients),
    timeout: String(o.timeout),
    'tcp-keepalive': String(o.tcpKeepalive),
    'proto-max-bulk-len': String(o.maxBulkLen),
    'proto-inline-max-size': String(o.maxInlineLen),
    'proto-max-multibulk-len': String(o.maxMultibulkLen),
    requirepass: o.requirepass,
    databases: '1',
    save: '',
    appendonly: node.durability === null ? 'no' : 'yes',
    appendfsync: node.durability?.fsync ?? o.fsync,
    dir: node.durability?.dir ?? '',
    loglevel: o.loglevel
  }
}

/** BGREWRITEAOF: compacts the log into a snapshot in the background (FORMAT.md §Compaction). */
function bgrewriteaof (ctx: CommandContext): Encoded {
  const durability = ctx.node.durability
  if (durability === null) throw new CommandError(ERRORS.noPersistence)
  if (!durability.compact()) throw new CommandError(ERRORS.compacting)
  return simple('Background append only file rewriting started')
}

/**
 * What CONFIG SET may change: options read afresh each time they are used
 * (maxclients at every accept; timeout and tcp-keepalive for each connection
 * accepted afterwards). Redis's ranges.
 */
const SETTABLE: Record<string, { key: 'maxclients' | 'timeout' | 'tcpKeepalive', min: number, max: number }> = {
  maxclients: { key: 'maxclients', min: 1, max: 4294967295 },
  timeout: { key: 'timeout', min: 0, max: 2147483647 },
  'tcp-keepalive': { key: 'tcpKeepalive', min: 0, max: 2147483647 }
}

/**
 * CONFIG SET name value [name value ...]: all or nothing, checked in Redis's
 * order: every name (unknown, not settable, repeated), then every value.
 */
function configSet (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length < 4) throw new CommandError(errorText('wrongArity', 'config|set'))
  if (args.length % 2 !== 0) throw new CommandError(ERRORS.syntax)
  const known = configValues(ctx.node)
  const names: string[] = []
  for (let i = 2; i < args.length; i += 2) {
    const name = text(args[i]).toLowerCase()
    if (!Object.hasOwn(known, name)) throw new CommandError(errorText('configSetUnknown', text(args[i])))
    if (!Object.hasOwn(SETTABLE, name)) throw new CommandError(errorText('configSetFailed', text(args[i]), "can't set immutable config"))
    if (names.includes(name)) throw new CommandError(errorText('configSetFailed', text(args[i]), 'duplicate parameter'))
    names.push(name)
  }
  const values = names.map((name, j) => {
    const { min, max } = SETTABLE[name] as (typeof SETTABLE)[string]
    const given = text(args[3 + 2 * j])
    if (!/^(0|-?[1-9]\d{0,18})$/.test(given)) throw new CommandError(errorText('configSetFailed', name, "argument couldn't be parsed into an integer"))
    const n = Number(given)
    if (n < min || n > max) throw new CommandError(errorText('configSetFailed', name, `argument must be between ${min} and ${max} inclusive`))
    return n
  })
  names.forEach((name, j) => { ctx.node.options[(SETTABLE[name] as (typeof SETTABLE)[string]).key] = values[j] as number })
  return OK
}

const CONFIG_HELP = [
  'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'HELP',
  '    Prints this help.'
]

/** CONFIG GET pattern [pattern ...]: name/value pairs; unknown names give nothing. CONFIG SET. */
function config (ctx: CommandContext, args: Buffer[]): Encoded {
  const sub = upper(args[1])
  if (sub === 'HELP') return array(CONFIG_HELP.map(simple))
  if (sub === 'SET') return configSet(ctx, args)
  if (sub !== 'GET') throw new CommandError(errorText('unknownSubcommand', quotedSubcommand(args[1]), 'CONFIG'))
  if (args.length < 3) throw new CommandError(errorText('wrongArity', 'config|get'))
  const values = configValues(ctx.node)
  const out: string[] = []
  for (const [name, value] of Object.entries(values)) {
    if (args.slice(2).some(p => globMatchNoCase(text(p), name))) out.push(name, value)
  }
  return bulkArray(out)
}

/** COMMAND [COUNT | INFO name... | DOCS | LIST]: what redis-cli and client libraries ask. */
export function commandCommand (table: CommandTable) {
  const describe = (name: string): Encoded => {
    const spec = table[name]
    if (spec === undefined) return bulk(null)
    const flags = [spec.write === true ? 'write' : 'readonly', ...(spec.noAuth === true ? ['no-auth'] : [])]
    const [first, last, step] = spec.keys ?? [0, 0, 0]
    return array([bulk(name), integer(spec.arity), array(flags.map(simple)), integer(first), integer(last), integer(step)])
  }
  return (_ctx: CommandContext, args: Buffer[]): Encoded => {
    const sub = args.length > 1 ? upper(args[1]) : ''
    const names = Object.keys(table)
    switch (sub) {
      case '': return array(names.map(describe))
      case 'COUNT': return integer(names.length)
      case 'LIST': return bulkArray(names)
      case 'INFO': return array(args.slice(2).map(a => describe(text(a).toLowerCase())))
      case 'DOCS': return EMPTY_ARRAY
      case 'HELP': return array(['COMMAND', 'COMMAND COUNT', 'COMMAND LIST', 'COMMAND INFO <name> [<name> ...]', 'COMMAND DOCS'].map(simple))
      default: throw new CommandError(errorText('unknownSubcommand', quotedSubcommand(args[1]), 'COMMAND'))
    }
  }
}

export const serverCommands: CommandTable = {
  info: { handler: info, arity: -1, summary: 'INFO [section ...]: server, clients, memory, persistence, stats, keyspace' },
  config: { handler: config, arity: -2, subcommands: { get: -3, set: -4, help: 2 }, summary: 'CONFIG GET pattern [pattern ...] | SET name value [name value ...] | HELP: options at run time' },
  bgrewriteaof: { handler: bgrewriteaof, arity: 1, summary: 'BGREWRITEAOF: compact the log into a snapshot, in the background' }
}
