import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import type { Cluster } from '../cluster/cluster.js'
import { registerClusterMetrics } from './cluster-metrics.js'
import { registerRedisMetrics, type ServerSource } from './redis-metrics.js'

// What one node exposes at GET /metrics (PROTOCOL.md §Metrics): its own registry
// (redis_*, keystone_*), then the process's (process_*, nodejs_*).

/** fdatasync of the log: from a tenth of a millisecond (a fast SSD's cache) to seconds (a disk in trouble). */
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/**
 * prom-client's default metrics describe the process, not a node, and each
 * collectDefaultMetrics call starts its own event-loop and GC observers that
 * are never stopped. So one registry per process, made on first use, shared
 * by every node in it (tests run several).
 */
let processRegistry: Registry | null = null

/**
 * Gauges prom-client names `..._total`: promtool rejects a `_total` that is no
 * counter (`promtool check metrics`), so they are left out.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

function processMetrics (): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    for (const name of MISNAMED_DEFAULTS) processRegistry.removeSingleMetric(name)
  }
  return processRegistry
}

/** What the metrics read of a node: KeystoneNode is one. */
export interface MetricsSource extends ServerSource {
  readonly cluster: Cluster
}

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly fsync: Histogram

  constructor (node: MetricsSource) {
    registerRedisMetrics(this.registry, node)
    registerClusterMetrics(this.registry, node.cluster)
    this.fsync = new Histogram({
      name: 'keystone_log_fsync_seconds',
      help: 'Time each fdatasync of the log took (--fsync always: one per group of writes; everysec: about one a second)',
      buckets: FSYNC_BUCKETS,
      registers: [this.registry]
    })
  }

  /** One fdatasync of the log took `seconds` (AppendLog's onSynced). */
  observeFsync (seconds: number): void {
    this.fsync.observe(seconds)
  }

  /** The content type of text(): Prometheus text format 0.0.4. */
  get contentType (): string {
    return this.registry.contentType
  }

  /** The exposition: this node's metrics, then the process's. */
  async text (): Promise<string> {
    const own = await this.registry.metrics()
    return own + '\n' + await processMetrics().metrics()
  }
}
