import { bulkText, type Encoded } from '../protocol/reply.js'
import { text } from './args.js'
import type { CommandContext, NodeContext } from './types.js'

// PROTOCOL.md §INFO: `# Section` headers, `field:value` lines, CRLF line ends, as Redis.

type Section = (node: NodeContext) => Record<string, string | number>

/** INFO used_memory (and redis_memory_used_bytes): the JS heap in use plus memory outside it, Buffers included. */
export function usedMemory (m: NodeJS.MemoryUsage = process.memoryUsage()): number {
  return m.heapUsed + m.external
}

/** INFO uptime_in_seconds (and redis_uptime_in_seconds): whole seconds since the node started. */
export function uptimeSeconds (stats: { readonly startedAt: number }): number {
  return Math.floor((Date.now() - stats.startedAt) / 1000)
}

/** INFO connected_clients (and redis_connected_clients): connections open, peer links not counted. */
export function connectedClients (sessions: Iterable<{ readonly isPeer: boolean }>): number {
  let clients = 0
  for (const session of sessions) if (!session.isPeer) clients++
  return clients
}

const SECTIONS: Record<string, Section> = {
  server (node) {
    const uptime = uptimeSeconds(node.stats)
    const { host, port } = node.address()
    return {
      // Clients read redis_version to pick features; we speak what Redis 7.0 speaks over RESP2.
      redis_version: '7.0.0',
      keystone_version: node.version,
      redis_mode: 'standalone',
      os: `${process.platform} ${process.arch}`,
      process_id: process.pid,
      node_version: process.version,
      tcp_port: port,
      bind: host,
      uptime_in_seconds: uptime,
      uptime_in_days: Math.floor(uptime / 86400)
    }
  },
  clients (node) {
    return { connected_clients: connectedClients(node.sessions()), maxclients: node.options.maxclients }
  },
  memory () {
    const m = process.memoryUsage()
    const used = usedMemory(m)
    return {
      used_memory: used,
      used_memory_human: `${(used / 1048576).toFixed(2)}M`,
      used_memory_rss: m.rss,
      used_memory_heap: m.heapUsed,
      used_memory_external: m.external
    }
  },
  persistence (node) {
    // loading: clients such as ioredis wait while it is 1; a node loads before it listens.
    return { loading: 0, ...(node.durability === null ? { aof_enabled: 0 } : node.durability.info()) }
  },
  stats (node) {
    const s = node.stats
    return {
      total_connections_received: s.connectionsReceived,
      total_commands_processed: s.commandsProcessed,
      instantaneous_ops_per_sec: s.opsPerSec(),
      total_net_input_bytes: s.netInputBytes,
      total_net_output_bytes: s.netOutputBytes,
      rejected_connections: s.rejectedConnections,
      expired_keys: node.store.stats.expiredKeys,
      keyspace_hits: node.store.stats.keyspaceHits,
      keyspace_misses: node.store.stats.keyspaceMisses,
      total_error_replies: s.errorReplies
    }
  },
  commandstats (node): Record<string, string> {
    const fields: Record<string, string> = {}
    // Sorted by name, so a command's subcommands follow it (Redis's order is its hash table's).
    for (const [name, c] of [...node.stats.commands].sort(([a], [b]) => a < b ? -1 : 1)) {
      if (c.calls === 0 && c.rejected === 0 && c.failed === 0) continue
      const perCall = c.calls === 0 ? 0 : c.usec / c.calls
      fields[`cmdstat_${name}`] = `calls=${c.calls},usec=${Math.floor(c.usec)},usec_per_call=${perCall.toFixed(2)},rejected_calls=${c.rejected},failed_calls=${c.failed}`
    }
    return fields
  },
  errorstats (node): Record<string, string> {
    const fields: Record<string, string> = {}
    for (const [code, count] of [...node.stats.errors].sort(([a], [b]) => a < b ? -1 : 1)) fields[`errorstat_${code}`] = `count=${count}`
    return fields
  },
  keyspace (node): Record<string, string> {
    const keys = node.store.size
    return keys === 0 ? {} : { db0: `keys=${keys},expires=${node.store.keysWithExpiry}` }
  }
}

/** Every section, in Redis's order; INFO, and INFO default, leave out commandstats, as Redis 7 does. */
const ORDER = ['server', 'clients', 'memory', 'persistence', 'stats', 'commandstats', 'errorstats', 'keyspace']
const NOT_DEFAULT = new Set(['commandstats'])

function render (name: string, fields: Record<string, string | number>): string {
  const title = name[0]?.toUpperCase() + name.slice(1)
  return `# ${title}\r\n` + Object.entries(fields).map(([k, v]) => `${k}:${v}\r\n`).join('')
}

/**
 * The sections asked for: `all` or `everything`: each; none, or `default`:
 * each but commandstats (unless named too), in order; else those named, in that order.
 */
function sectionsOf (node: NodeContext, requested: string[]): string[] {
  const all = [...ORDER, ...node.infoSections.keys()]
  if (requested.includes('all') || requested.includes('everything')) return all
  if (requested.length > 0 && !requested.includes('default')) return requested
  return all.filter(name => !NOT_DEFAULT.has(name) || requested.includes(name))
}

export function infoText (node: NodeContext, requested: string[]): string {
  const wanted = sectionsOf(node, requested)
  const parts: string[] = []
  for (const name of wanted) {
    const builtin = SECTIONS[name]
    if (builtin !== undefined) parts.push(render(name, builtin(node)))
    const custom = node.infoSections.get(name)
    if (custom !== undefined) parts.push(custom())
  }
  return parts.join('\r\n')
}

/** INFO [section ...] — an unknown section gives an empty reply, as in Redis. */
export function info (ctx: CommandContext, args: Buffer[]): Encoded {
  const requested = args.slice(1).map(a => text(a).toLowerCase())
  return bulkText(infoText(ctx.node, requested))
}
