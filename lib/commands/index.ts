import { error, type Encoded } from '../protocol/reply.js'
import { CommandError, cString, QUOTED_MAX, quotedSubcommand, text } from './args.js'
import { connectionCommands } from './connection.js'
import { counterCommands } from './counters.js'
import { ERRORS, errorText } from './errors.js'
import { expiryCommands } from './expiry.js'
import { hashCommands } from './hashes.js'
import { keyspaceCommands } from './keyspace.js'
import { objectCommands } from './object.js'
import { commandCommand, serverCommands } from './server.js'
import { slowlogCommands } from './slowlog.js'
import { setCommands } from './sets.js'
import { stringRangeCommands } from './string-ranges.js'
import { stringCommands } from './strings.js'
import { transactionCommands } from './transactions.js'
import type { CommandContext, CommandSpec, CommandTable } from './types.js'

export { run } from './run.js'
export { connectedClients, uptimeSeconds, usedMemory } from './info.js'
export { call, countError, rejected, resetStats } from './call.js'
export { queue, refusedInTransaction, unwatchAll } from './transactions.js'
export type { CommandContext, CommandSpec, CommandStat, CommandTable, Durability, NodeContext, Session, ServerStats, SlowlogEntry } from './types.js'

/** The client commands of a node, plus `extra` (the cluster's). */
export function clientCommands (extra: CommandTable = {}): CommandTable {
  return withCommands({
    ...connectionCommands,
    ...stringCommands,
    ...counterCommands,
    ...stringRangeCommands,
    ...hashCommands,
    ...setCommands,
    ...expiryCommands,
    ...keyspaceCommands,
    ...objectCommands,
    ...serverCommands,
    ...slowlogCommands,
    ...transactionCommands
  }, extra)
}

/** A table with `extra` added, and COMMAND describing all of it. */
export function withCommands (table: CommandTable, extra: CommandTable = {}): CommandTable {
  const all: CommandTable = { ...table, ...extra }
  all.command = { handler: commandCommand(all), arity: -1, subcommands: { count: 2, list: -2, info: -2, docs: -2, help: 2 }, summary: 'COMMAND [COUNT|LIST|INFO name ...|DOCS]: the command table' }
  return all
}

/** No command name is longer; a longer one is unknown without decoding it all. */
const NAME_MAX = 32

/** As Redis: `'<arg>' ` for each argument while the text is under 128 bytes, each cut to what is left. */
function quoteArgs (args: Buffer[]): string {
  let out = ''
  for (let i = 1; i < args.length && out.length < QUOTED_MAX; i++) out += `'${cString(args[i] as Buffer, QUOTED_MAX - out.length)}' `
  return out
}

/** A command as found: its name in the table (lower case) and its spec. */
export interface Found { name: string, spec: CommandSpec }

/**
 * Each table's commands by name as sent, filled on first sight of each
 * spelling: the hot path neither lower-cases nor allocates for a name it knows.
 */
const spellings = new WeakMap<CommandTable, Spellings>()

/** A table's commands by spelling: as strings, and the short ones by their bytes (findBytes). */
interface Spellings {
  readonly byText: Map<string, Found>
  /** Direct-mapped: a slot holds the last short spelling found that maps there. */
  readonly byBytes: Array<SpelledAs | undefined>
}

/** A name of at most 8 bytes, held exactly as two numbers and its length. */
interface SpelledAs { readonly lo: number, readonly hi: number, readonly length: number, readonly found: Found }

/** Names longer than this are looked up as strings; every common one is shorter. */
const BYTES_NAME_MAX = 8
const BYTES_SLOTS = 256

/**
 * The table of the last lookup and its spellings: one server's table, so the
 * WeakMap is rarely asked. It keeps that one table alive after its node
 * closes, until another table is looked up (tests start many nodes).
 */
let lastTable: CommandTable | null = null
let lastSpellings: Spellings = { byText: new Map(), byBytes: [] }

function spellingsOf (table: CommandTable): Spellings {
  if (table === lastTable) return lastSpellings
  let known = spellings.get(table)
  if (known === undefined) {
    known = { byText: new Map(), byBytes: new Array<SpelledAs | undefined>(BYTES_SLOTS).fill(undefined) }
    spellings.set(table, known)
  }
  lastTable = table
  lastSpellings = known
  return known
}

function find (table: CommandTable, sent: string): Found | undefined {
  const known = spellingsOf(table).byText
  const hit = known.get(sent)
  if (hit !== undefined) return hit
  const name = sent.toLowerCase()
  const spec = Object.hasOwn(table, name) ? table[name] : undefined
  if (spec === undefined) return undefined
  const found = { name, spec }
  if (known.size < 1024) known.set(sent, found) // bounded: a client may send any mix of cases
  return found
}

/**
 * find() for a name as the request's bytes. A name of up to 8 bytes packs
 * exactly into two numbers, which a cache slot compares: a name seen before
 * makes no string (one per request, the most common command lookup).
 */
function findBytes (table: CommandTable, name: Buffer): Found | undefined {
  if (name.length > BYTES_NAME_MAX) return name.length > NAME_MAX ? undefined : find(table, text(name))
  let lo = 0
  let hi = 0
  for (let i = 0; i < name.length; i++) {
    if (i < 4) lo = (lo << 8) | (name[i] as number)
    else hi = (hi << 8) | (name[i] as number)
  }
  const slots = spellingsOf(table).byBytes
  const slot = Math.imul(lo ^ Math.imul(hi ^ name.length, 0x9e3779b1), 0x85ebca6b) >>> 24
  const hit = slots[slot]
  if (hit !== undefined && hit.lo === lo && hit.hi === hi && hit.length === name.length) return hit.found
  const found = find(table, text(name))
  if (found !== undefined) slots[slot] = { lo, hi, length: name.length, found }
  return found
}

/** The name in the table of the command a request names, or null if none (for a refused request's stats). */
export function commandName (table: CommandTable, args: Buffer[]): string | null {
  const found = findBytes(table, args[0] as Buffer)
  if (found === undefined) return null
  const subcommands = found.spec.subcommands
  if (subcommands === undefined || args.length < 2) return found.name
  // As Redis: a known subcommand is counted as `name|sub`; an unknown one under no command.
  const sub = text(args[1]).toLowerCase()
  return Object.hasOwn(subcommands, sub) ? `${found.name}|${sub}` : null
}

/** The command for a request, or the error reply that refuses it (PROTOCOL.md §Errors, order of checks). */
export function lookup (table: CommandTable, ctx: CommandContext, args: Buffer[]): Found | string {
  const name = args[0] as Buffer
  const found = findBytes(table, name)
  if (found === undefined) return error(errorText('unknownCommand', cString(name, QUOTED_MAX), quoteArgs(args)))
  const arity = found.spec.arity
  if ((arity > 0 && args.length !== arity) || args.length < -arity) {
    return error(errorText('wrongArity', found.name))
  }
  const subcommands = found.spec.subcommands
  if (subcommands !== undefined && args.length > 1) {
    const sub = text(args[1]).toLowerCase()
    const subArity = Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined
    if (subArity === undefined) return error(errorText('unknownSubcommand', quotedSubcommand(args[1]), found.name.toUpperCase()))
    if ((subArity > 0 && args.length !== subArity) || args.length < -subArity) return error(errorText('wrongArity', `${found.name}|${sub}`))
  }
  if (!ctx.session.authenticated && found.spec.noAuth !== true) return error(ERRORS.noAuth)
  // PROTOCOL.md §Order of checks: a write the log could not keep is refused before it is made.
  if (found.spec.write === true) {
    const refusal = ctx.node.writeRefusal?.() ?? null
    if (refusal !== null) return error(refusal)
  }
  return found
}
