import { performance } from 'node:perf_hooks'
import { error, type Encoded } from '../protocol/reply.js'
import { text } from './args.js'
import { errorText } from './errors.js'
import { run } from './run.js'
import { recordSlow } from './slowlog.js'
import type { CommandContext, CommandSpec, CommandStat, NodeContext, ServerStats } from './types.js'

// PROTOCOL.md §INFO (commandstats, errorstats) and §SLOWLOG: what Redis 7's
// call() counts around a command, and its rejectCommand() and afterErrorReply().

/** Commands with subcommands: a run counts as `name|sub` (`config|get`), as in Redis 7. */
const CONTAINERS: ReadonlySet<string> = new Set(['client', 'command', 'config', 'object', 'slowlog'])
/** Bounds on the counters' maps, whatever clients send. Redis also tracks at most 128 error codes. */
const MAX_COMMAND_STATS = 1024
const MAX_ERROR_CODES = 128
/** How the handler of a command with subcommands refuses one it does not know. */
const UNKNOWN_SUBCOMMAND = "-ERR unknown subcommand '"

function statOf (stats: ServerStats, key: string, container: boolean): CommandStat | undefined {
  let stat = stats.commands.get(key)
  if (stat === undefined && stats.commands.size < MAX_COMMAND_STATS) {
    stat = { calls: 0, usec: 0, rejected: 0, failed: 0, container }
    stats.commands.set(key, stat)
  }
  return stat
}

/** RESP errors, and only errors, start with `-`. */
function isError (reply: Encoded): boolean {
  return typeof reply === 'string' ? reply.charCodeAt(0) === 0x2d : reply[0] === 0x2d
}

/**
 * Counts an error reply sent to a client, in errorstats by its first word as
 * Redis's afterErrorReply does: the text up to a space among its first 32
 * bytes (`-` included), else `ERR`.
 */
export function countError (stats: ServerStats, reply: Encoded): void {
  const message = typeof reply === 'string' ? reply : reply.toString('latin1', 0, 32)
  stats.errorReplies++
  const space = message.indexOf(' ')
  const code = space > 1 && space < 32 ? message.slice(1, space) : 'ERR'
  const errors = stats.errors
  const n = errors.get(code)
  if (n !== undefined) errors.set(code, n + 1)
  else if (errors.size < MAX_ERROR_CODES) errors.set(code, 1)
}

/**
 * A command refused before it ran (unknown, arity, NOAUTH, MISCONF, LOADING;
 * PROTOCOL.md §Order of checks): a rejected call of `name` (null: unknown,
 * counted nowhere but errorstats), as Redis's rejectCommand.
 */
export function rejected (stats: ServerStats, name: string | null, reply: string): void {
  if (name !== null) {
    const stat = statOf(stats, name, CONTAINERS.has(name))
    if (stat !== undefined) stat.rejected++
  }
  countError(stats, reply)
}

/** A later reply (WAIT) that is an error is a failed call, counted when it comes. */
function settleLater (stats: ServerStats, stat: CommandStat | undefined, reply: Promise<Encoded>): void {
  reply.then(r => {
    if (!isError(r)) return
    if (stat !== undefined) stat.failed++
    countError(stats, r)
  }, () => {}) // run's promises do not reject; the connection handles the reply itself
}

/**
 * Runs a looked-up command as Redis's call() does. Only the handler is timed
 * (one clock read before, one after): not the lookup, not the wait for the
 * write barrier, so a write's duration is its execution, as in Redis
 * (PROTOCOL.md §SLOWLOG). Then it counts in INFO commandstats (calls, usec,
 * failed_calls), errorstats and total_commands_processed, and goes to the
 * slowlog if it was slow enough (EXEC never does: its commands go one by one).
 */
export function call (ctx: CommandContext, name: string, spec: CommandSpec, args: Buffer[]): Encoded | Promise<Encoded> {
  const start = performance.now()
  const reply = run(spec, ctx, args)
  const usec = (performance.now() - start) * 1000
  const stats = ctx.node.stats
  let stat = stats.commands.get(name) ?? statOf(stats, name, CONTAINERS.has(name))
  const sync = typeof reply === 'string' || Buffer.isBuffer(reply) ? reply : null
  const failed = sync !== null && isError(sync)
  if (stat?.container === true && args.length > 1) {
    // Redis looks subcommands up before running: an unknown one, or a known one
    // with the wrong arity, is refused, not run. Here the handler checks both.
    if (failed && typeof sync === 'string' && sync.startsWith(UNKNOWN_SUBCOMMAND)) {
      countError(stats, sync)
      return sync
    }
    const key = `${name}|${text(args[1]).toLowerCase()}`
    stat = statOf(stats, key, false)
    if (failed && sync === error(errorText('wrongArity', key))) {
      if (stat !== undefined) stat.rejected++
      countError(stats, sync)
      return sync
    }
  }
  stats.commandsProcessed++
  if (stat !== undefined) {
    stat.calls++
    stat.usec += usec
  }
  if (sync === null) {
    settleLater(stats, stat, reply as Promise<Encoded>)
  } else if (failed) {
    if (stat !== undefined) stat.failed++
    countError(stats, sync)
  }
  const slower = ctx.node.options.slowlogLogSlowerThan
  if (slower >= 0 && usec >= slower && name !== 'exec') recordSlow(ctx, name, args, usec)
  return reply
}

/** CONFIG RESETSTAT's part: every counter of INFO stats, commandstats and errorstats back to 0 (not the slowlog). */
export function resetStats (node: NodeContext): void {
  const s = node.stats
  s.connectionsReceived = 0
  s.rejectedConnections = 0
  s.commandsProcessed = 0
  s.netInputBytes = 0
  s.netOutputBytes = 0
  s.errorReplies = 0
  s.commands.clear()
  s.errors.clear()
  const store = node.store.stats
  store.expiredKeys = 0
  store.keyspaceHits = 0
  store.keyspaceMisses = 0
}
