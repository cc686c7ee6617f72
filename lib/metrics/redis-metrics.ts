import type { Registry } from 'prom-client'
import { connectedClients, uptimeSeconds, usedMemory, type CommandStat, type ServerStats, type Session } from '../commands/index.js'
import type { Store } from '../store/store.js'
import { counterOf, countersOf, gaugeOf, gaugesOf, type Series } from './collect.js'

// The metrics a Redis server has, under redis_exporter's names (README.md
// §Metrics), so its dashboards and alerts work unchanged. Each reads what INFO
// reads (PROTOCOL.md §INFO), at scrape time.

/** What these metrics read of a node (KeystoneNode is one). */
export interface ServerSource {
  readonly stats: ServerStats
  readonly store: Store
  readonly sessions: () => Iterable<Session>
}

export function registerRedisMetrics (registry: Registry, node: ServerSource): void {
  const s = node.stats
  const store = node.store
  gaugeOf(registry, 'redis_uptime_in_seconds', 'Seconds since the node started', () => uptimeSeconds(s))
  gaugeOf(registry, 'redis_connected_clients', 'Client connections open (peer links not counted)', () => connectedClients(node.sessions()))
  gaugeOf(registry, 'redis_memory_used_bytes', 'JS heap in use plus memory outside it (Buffers), as INFO used_memory', () => usedMemory())
  counterOf(registry, 'redis_connections_received_total', 'Connections accepted', () => s.connectionsReceived)
  counterOf(registry, 'redis_rejected_connections_total', 'Connections refused (maxclients, handshaking TLS ones included; the node closing; a TLS client certificate refused)', () => s.rejectedConnections)
  counterOf(registry, 'redis_commands_processed_total', 'Commands run (each of an EXEC\'s included)', () => s.commandsProcessed)
  counterOf(registry, 'redis_net_input_bytes_total', 'Bytes read from clients', () => s.netInputBytes)
  counterOf(registry, 'redis_net_output_bytes_total', 'Bytes written to clients', () => s.netOutputBytes)
  counterOf(registry, 'redis_keyspace_hits_total', 'Key lookups that found a live value', () => store.stats.keyspaceHits)
  counterOf(registry, 'redis_keyspace_misses_total', 'Key lookups that found none', () => store.stats.keyspaceMisses)
  counterOf(registry, 'redis_expired_keys_total', 'Keys removed because their TTL ran out', () => store.stats.expiredKeys)
  // One database, as INFO keyspace's db0; shown at 0 keys too, so a dashboard never loses the series.
  gaugesOf(registry, 'redis_db_keys', 'Keys in the database', ['db'], () => [[{ db: 'db0' }, store.size]])
  gaugesOf(registry, 'redis_db_keys_expiring', 'Keys with a TTL in the database', ['db'], () => [[{ db: 'db0' }, store.keysWithExpiry]])
  countersOf(registry, 'redis_errors_total', 'Error replies by their first word (INFO errorstats)', ['err'], () =>
    [...s.errors].map(([err, n]) => [{ err }, n]))
  // INFO commandstats, one series per command (or `name|sub`) that has run or been refused.
  const perCommand = (value: (c: CommandStat) => number): Series<'cmd'> =>
    [...s.commands].map(([cmd, c]) => [{ cmd }, value(c)])
  countersOf(registry, 'redis_commands_total', 'Calls per command', ['cmd'], () => perCommand(c => c.calls))
  countersOf(registry, 'redis_commands_duration_seconds_total', 'Seconds spent in each command\'s handler', ['cmd'], () => perCommand(c => c.usec / 1e6))
  countersOf(registry, 'redis_commands_rejected_calls_total', 'Calls refused before running (arity, NOAUTH, MISCONF) per command', ['cmd'], () => perCommand(c => c.rejected))
  countersOf(registry, 'redis_commands_failed_calls_total', 'Calls that ran and answered an error, per command', ['cmd'], () => perCommand(c => c.failed))
}
