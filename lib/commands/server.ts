import { array, bulk, bulkArray, EMPTY_ARRAY, integer, OK, simple, type Encoded } from '../protocol/reply.js'
import { globMatchNoCase } from '../store/glob.js'
import { CommandError, quotedSubcommand, text, upper } from './args.js'
import { resetStats } from './call.js'
import { ERRORS, errorText } from './errors.js'
import { info } from './info.js'
import { rewriteConfigFile } from '../config-file.js'
import { crossCheck, FLAGS, formatOptionValue, optionByName, OptionValueError, parseOptionValue, type NodeOptions, type OptionSpec } from '../options.js'
import type { CommandContext, CommandTable, NodeContext } from './types.js'

// PROTOCOL.md §Server: INFO, CONFIG GET and SET, COMMAND.

/**
 * Redis's names for some options, which clients ask CONFIG GET for; CONFIG SET
 * takes them too. Each shows what the node really does (the address and
 * directory in use) rather than the option as given.
 */
const REDIS_NAMES: Record<string, { flag?: string, value: (node: NodeContext) => string }> = {
  bind: { flag: 'host', value: node => node.address().host },
  'proto-max-bulk-len': { flag: 'max-bulk-len', value: node => String(node.options.maxBulkLen) },
  'proto-inline-max-size': { flag: 'max-inline-len', value: node => String(node.options.maxInlineLen) },
  'proto-max-multibulk-len': { flag: 'max-multibulk-len', value: node => String(node.options.maxMultibulkLen) },
  databases: { value: () => '1' },
  save: { value: () => '' },
  appendonly: { value: node => (node.durability === null ? 'no' : 'yes') },
  appendfsync: { flag: 'fsync', value: node => node.durability?.fsync ?? node.options.fsync },
  dir: { flag: 'data-dir', value: node => node.durability?.dir ?? '' }
}

/** Every option by its flag's name (port: the one listened on), then Redis's names: CONFIG GET. */
function configValues (node: NodeContext): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const spec of FLAGS) {
    if (spec.notInFile === true) continue
    out.push([spec.flag, spec.key === 'port' ? String(node.address().port) : formatOptionValue(spec, node.options)])
  }
  for (const [name, { value }] of Object.entries(REDIS_NAMES)) out.push([name, value(node)])
  return out
}

/** BGREWRITEAOF: compacts the log into a snapshot in the background (FORMAT.md §Compaction). */
function bgrewriteaof (ctx: CommandContext): Encoded {
  const durability = ctx.node.durability
  if (durability === null) throw new CommandError(ERRORS.noPersistence)
  if (!durability.compact()) throw new CommandError(ERRORS.compacting)
  return simple('Background append only file rewriting started')
}

/**
 * CONFIG SET name value [name value ...]: all or nothing, checked in Redis's
 * order: every name (unknown, not settable, repeated), then every value, then
 * the options together. What may change, and how, is each option's `live`
 * entry in lib/options.ts (PROTOCOL.md §CONFIG).
 */
function configSet (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length % 2 !== 0) throw new CommandError(ERRORS.syntax)
  const failed = (name: string, why: string): CommandError => new CommandError(errorText('configSetFailed', name, why))
  const specs: OptionSpec[] = []
  for (let i = 2; i < args.length; i += 2) {
    const sent = text(args[i])
    const name = sent.toLowerCase()
    const redis = Object.hasOwn(REDIS_NAMES, name) ? REDIS_NAMES[name] : undefined
    const spec = optionByName(redis === undefined ? name : redis.flag ?? '')
    if (spec === undefined && redis === undefined) throw new CommandError(errorText('configSetUnknown', sent))
    if (spec?.live === undefined || spec.notInFile === true) throw failed(sent, "can't set immutable config")
    if (specs.includes(spec)) throw failed(sent, 'duplicate parameter')
    specs.push(spec)
  }
  const next: NodeOptions = { ...ctx.node.options }
  const target = next as unknown as Record<string, unknown>
  specs.forEach((spec, j) => {
    try {
      target[spec.key] = parseOptionValue(spec, text(args[3 + 2 * j]))
    } catch (err) {
      throw failed(text(args[2 + 2 * j]), err instanceof OptionValueError ? err.reason : String(err))
    }
  })
  const cross = crossCheck(next)
  if (cross !== null) throw failed(text(args[2]), cross)
  // What the node must be able to do with the new values (load TLS files): checked before anything changes.
  const checked = new Set<OptionSpec['check']>()
  specs.forEach((spec, j) => {
    if (spec.check === undefined || checked.has(spec.check)) return
    checked.add(spec.check)
    const refusal = spec.check(ctx.node, next)
    if (refusal === null) return
    if (typeof refusal === 'string') throw failed(text(args[2 + 2 * j]), refusal)
    // The option whose file failed, if it is one of those sent; else the first sent that shares the check.
    const at = specs.findIndex(s => s.flag === refusal.option)
    throw failed(text(args[2 + 2 * (at >= 0 ? at : j)]), refusal.reason)
  })
  // From here nothing may fail: a live step only installs what its check prepared
  // (the TLS files as loaded), so +OK always means CONFIG GET shows what is in use.
  const options = ctx.node.options as unknown as Record<string, unknown>
  for (const spec of specs) options[spec.key] = target[spec.key]
  const applied = new Set<OptionSpec['live']>()
  for (const spec of specs) {
    if (typeof spec.live !== 'function' || applied.has(spec.live)) continue
    applied.add(spec.live)
    spec.live(ctx.node)
  }
  return OK
}

/** CONFIG REWRITE: the file the node was started with gets the current options (README.md §Config file). */
async function configRewrite (ctx: CommandContext): Promise<Encoded> {
  const file = ctx.node.options.configFile
  if (file === undefined) throw new CommandError(ERRORS.noConfigFile)
  try {
    await rewriteConfigFile(file, ctx.node.options)
  } catch (err) {
    ctx.node.log.warn(`CONFIG REWRITE of ${file} failed: ${(err as Error).message}`)
    throw new CommandError(errorText('configRewrite', (err as Error).message))
  }
  ctx.node.log.info(`CONFIG REWRITE: wrote ${file}`)
  return OK
}

const CONFIG_HELP = [
  'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'RESETSTAT',
  '    Reset statistics reported by the INFO command.',
  'REWRITE',
  '    Rewrite the configuration file.',
  'HELP',
  '    Prints this help.'
]

/** CONFIG GET pattern [pattern ...]: name/value pairs; unknown names give nothing. CONFIG SET, REWRITE. */
function config (ctx: CommandContext, args: Buffer[]): Encoded | Promise<Encoded> {
  const sub = upper(args[1])
  if (sub === 'HELP') return array(CONFIG_HELP.map(simple))
  if (sub === 'SET') return configSet(ctx, args)
  if (sub === 'REWRITE') return configRewrite(ctx)
  if (sub === 'RESETSTAT') {
    resetStats(ctx.node)
    return OK
  }
  // GET: the subcommand and its arity were checked by lookup (the spec's `subcommands`).
  const values = configValues(ctx.node)
  const out: string[] = []
  for (const [name, value] of values) {
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
  config: { handler: config, arity: -2, subcommands: { get: -3, set: -4, resetstat: 2, rewrite: 2, help: 2 }, summary: 'CONFIG GET pattern [pattern ...] | SET name value [name value ...] | RESETSTAT | REWRITE | HELP: options at run time and statistics' },
  bgrewriteaof: { handler: bgrewriteaof, arity: 1, summary: 'BGREWRITEAOF: compact the log into a snapshot, in the background' }
}
