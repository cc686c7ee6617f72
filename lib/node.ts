import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Cluster } from './cluster/cluster.js'
import { clusterCommands } from './cluster/commands.js'
import { replicationInfo } from './cluster/info.js'
import type { LinkTiming } from './cluster/peer-link.js'
import { clientCommands, type CommandTable, type NodeContext, type Session } from './commands/index.js'
import { createLogger, type Logger } from './log.js'
import { DEFAULTS, validateOptions, type NodeOptions } from './options.js'
import { Server } from './server/server.js'
import { createStats } from './server/stats.js'
import { HybridClock } from './store/clock.js'
import { Store } from './store/store.js'

/** Active expiry runs this often, and again at once while over a quarter of the sample had expired. */
const EXPIRY_EVERY_MS = 100
const EXPIRY_SAMPLE = 200
const EXPIRY_MAX_ROUNDS = 16

function packageVersion (): string {
  try {
    const file = path.join(__dirname, '..', '..', 'package.json')
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

export interface NodeDependencies {
  log?: Logger
  clock?: HybridClock
  nodeId?: string
  /** Heartbeat and failure-detection timing (tests shorten it). */
  timing?: Partial<LinkTiming>
}

/**
 * One Keystone node: the store, the server in front of it, background work.
 * `start()` listens; `close()` stops everything it started.
 */
export class KeystoneNode implements NodeContext {
  readonly options: NodeOptions
  readonly store: Store
  readonly log: Logger
  readonly stats = createStats()
  readonly version = packageVersion()
  readonly infoSections = new Map<string, () => string>()
  readonly server: Server
  readonly table: CommandTable
  readonly cluster: Cluster
  private expiryTimer: NodeJS.Timeout | null = null
  private closing: Promise<void> | null = null

  constructor (options: Partial<NodeOptions> = {}, deps: NodeDependencies = {}) {
    this.options = { ...DEFAULTS, ...options }
    validateOptions(this.options)
    this.log = deps.log ?? createLogger(this.options.loglevel)
    const nodeId = deps.nodeId ?? randomBytes(20).toString('hex')
    // A node that has never had a peer has no one to tell about a delete.
    const offset = this.options.clockOffsetMs
    const clock = deps.clock ?? (offset === 0 ? undefined : new HybridClock({ now: () => Date.now() + offset }))
    this.store = new Store({ nodeId, clock, keepTombstones: false, tombstoneHorizonMs: this.options.tombstoneHorizon * 1000 })
    this.cluster = new Cluster(this.store, this.log, {
      advertise: this.options.advertise ?? '',
      host: this.options.host,
      password: this.options.requirepass,
      timing: deps.timing
    })
    this.table = clientCommands(clusterCommands(this.cluster))
    this.server = new Server(this, this.table, () => this.cluster.barrier())
    this.infoSections.set('replication', () => replicationInfo(this.cluster))
  }

  get nodeId (): string {
    return this.store.nodeId
  }

  address (): { host: string, port: number } {
    return this.server.address()
  }

  sessions (): Iterable<Session> {
    return this.server.sessions()
  }

  /** Listens, then joins the cluster of --join if given. */
  async start (): Promise<{ host: string, port: number }> {
    const address = await this.server.listen()
    this.cluster.advertise = this.options.advertise ?? `${address.host}:${address.port}`
    if (this.options.advertise === undefined && (address.host === '0.0.0.0' || address.host === '::')) {
      this.log.warn(`advertising ${this.cluster.advertise}, which other machines cannot dial: set --advertise HOST:PORT for a multi-machine cluster`)
    }
    this.expiryTimer = setInterval(() => this.expireKeys(), EXPIRY_EVERY_MS)
    this.expiryTimer.unref()
    if (this.options.join !== undefined) {
      try {
        await this.cluster.join(this.options.join)
      } catch (err) {
        await this.close()
        throw err
      }
    }
    return address
  }

  /** Stops accepting, flushes replies to every client, stops timers. Idempotent. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      if (this.expiryTimer !== null) clearInterval(this.expiryTimer)
      this.stats.close()
      this.cluster.close()
      await this.server.close()
    })()
    return this.closing
  }

  private expireKeys (): void {
    for (let round = 0; round < EXPIRY_MAX_ROUNDS; round++) {
      if (this.store.expireSome(EXPIRY_SAMPLE) <= 0.25) break
    }
  }
}
