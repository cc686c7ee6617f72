import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Cluster } from './cluster/cluster.js'
import { DURABLE_AFTER_MS } from './cluster/convergence.js'
import { RetiredIds } from './cluster/removal.js'
import { realRuntime, type Cancel, type Runtime } from './cluster/runtime.js'
import { clusterCommands } from './cluster/commands.js'
import { replicationInfo } from './cluster/info.js'
import type { LinkTiming } from './cluster/peer-link.js'
import { clientCommands, type CommandTable, type Durability, type NodeContext, type Session } from './commands/index.js'
import { errorText } from './commands/errors.js'
import { KeystoneError } from './errors.js'
import { createLogger, type Logger } from './log.js'
import { MetricsServer, metricsUrl } from './metrics/http.js'
import { NodeMetrics } from './metrics/node-metrics.js'
import { DEFAULTS, validateOptions, type CheckRefusal, type LiveTarget, type NodeOptions } from './options.js'
import { defaultDataDir } from './persistence/data-dir.js'
import { Persistence, type NodeData } from './persistence/persistence.js'
import { Server } from './server/server.js'
import { createStats } from './server/stats.js'
import { loadTls, peerDialOptions, TlsFileError, tlsEnabled, type TlsMaterial } from './server/tls.js'
import { HybridClock } from './store/clock.js'
import { Store } from './store/store.js'

/** 127.0.0.0/8, ::1 (and ::ffff:127.x), localhost: only this machine reaches it. */
function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./.test(host)
}

/** The tls-* file names, as one string to compare. */
function tlsFiles (o: NodeOptions): string {
  return JSON.stringify([o.tlsCertFile, o.tlsKeyFile, o.tlsCaCertFile])
}

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
  /** Time, timers and dialling for the cluster code (and the clock's physical time); default the real ones. */
  runtime?: Runtime
  /** What the node keeps across restarts, instead of a data directory (the simulator's, in memory). */
  data?: NodeData
}

/**
 * One Keystone node: the store, the server in front of it, background work.
 * `start()` listens; `close()` stops everything it started.
 */
export class KeystoneNode implements NodeContext, LiveTarget {
  readonly options: NodeOptions
  readonly store: Store
  readonly log: Logger
  readonly stats = createStats()
  readonly version = packageVersion()
  readonly infoSections = new Map<string, () => string>()
  readonly server: Server
  readonly table: CommandTable
  readonly cluster: Cluster
  /** The data directory (or what stands in for it), once start() has opened it; null for memory only. */
  persistence: NodeData | null = null
  /** What GET /metrics shows; null without --metrics-port. */
  readonly metrics: NodeMetrics | null
  private metricsServer: MetricsServer | null = null
  private stopExpiry: Cancel | null = null
  private readonly runtime: Runtime
  private readonly givenData: NodeData | undefined
  private closing: Promise<void> | null = null
  private lastBarrier: { cluster: Promise<void>, disk: Promise<void>, both: Promise<void> } | null = null
  /** What checkTls loaded, for applyTls in the same CONFIG SET; files: the names it was loaded from. */
  private checkedTls: { files: string, material: TlsMaterial } | null = null

  constructor (options: Partial<NodeOptions> = {}, deps: NodeDependencies = {}) {
    this.options = { ...DEFAULTS, ...options }
    validateOptions(this.options)
    this.log = deps.log ?? createLogger(this.options.loglevel, undefined, this.options.logFormat)
    // The data directory, opened by start(), may hold the id this node had before.
    const nodeId = deps.nodeId ?? randomBytes(20).toString('hex')
    // A node that has never had a peer has no one to tell about a delete.
    const offset = this.options.clockOffsetMs
    const runtime = deps.runtime ?? realRuntime
    this.runtime = runtime
    this.givenData = deps.data
    const clock = deps.clock ?? (offset === 0 && runtime === realRuntime ? undefined : new HybridClock({ now: () => runtime.now() + offset }))
    this.store = new Store({ nodeId, clock, keepTombstones: false, tombstoneGraceMs: this.options.tombstoneGraceMs })
    this.cluster = new Cluster(this.store, this.log, {
      advertise: this.options.advertise ?? '',
      localAddress: net.isIP(this.options.host) !== 0 && this.options.host !== '0.0.0.0' && this.options.host !== '::' ? this.options.host : undefined,
      password: this.options.requirepass,
      timing: deps.timing,
      memberTimeoutMs: this.options.memberTimeout * 1000,
      runtime
    })
    this.table = clientCommands(clusterCommands(this.cluster))
    // PROTOCOL.md §TLS: files that cannot be used stop the start (a KS_ERR_TLS KeystoneError).
    const tls = tlsEnabled(this.options) ? loadTls(this.options) : null
    this.server = new Server(this, this.table, () => this.writeBarrier(), tls, () => this.runtime.now())
    if (tls !== null) this.useTls(tls)
    this.infoSections.set('replication', () => replicationInfo(this.cluster))
    this.metrics = this.options.metricsPort === undefined ? null : new NodeMetrics(this)
  }

  /** CONFIG SET loglevel: the next line is filtered at the new level. */
  applyLogLevel (): void {
    this.log.setLevel?.(this.options.loglevel)
  }

  /**
   * CONFIG SET requirepass (PROTOCOL.md §CONFIG): clients authenticate with it
   * from now on (the server reads options.requirepass at each accept and AUTH);
   * so do the peer links this node dials from now on. Connections already
   * authenticated, peers' included, stay so.
   */
  applyPassword (): void {
    this.cluster.password = this.options.requirepass
  }

  /**
   * CONFIG SET of a tls-* option (PROTOCOL.md §TLS): the port cannot switch
   * between TLS and plain TCP while it listens, and files that cannot be used
   * are refused before anything changes. The files loaded here are what
   * applyTls installs: they are read once per CONFIG SET.
   */
  checkTls (next: NodeOptions): CheckRefusal | null {
    this.checkedTls = null
    const on = tlsEnabled(next)
    if (on && !this.server.tls) return 'TLS is off on this node (started without tls-cert-file and tls-key-file); restart it with them to turn TLS on'
    if (!on && this.server.tls) return 'TLS cannot be turned off while the node runs; restart it without tls-cert-file and tls-key-file'
    if (!on) return null
    try {
      this.checkedTls = { files: tlsFiles(next), material: loadTls(next) }
      return null
    } catch (err) {
      return err instanceof TlsFileError ? { option: err.option, reason: err.message } : (err as Error).message
    }
  }

  /**
   * CONFIG SET tls-cert-file, tls-key-file, tls-ca-cert-file: the files as
   * checkTls read them a moment ago (in the same CONFIG SET, synchronously),
   * not read again: what is served is what was checked, and the options name
   * exactly those files. New connections and the peer links dialled from now
   * on use them; open ones keep what they have.
   */
  applyTls (): void {
    const checked = this.checkedTls
    this.checkedTls = null
    if (!this.server.tls) return
    if (checked === null || checked.files !== tlsFiles(this.options)) {
      // Not reachable through CONFIG SET, which checks before it applies.
      this.log.error('TLS reload without a check of these files: the previous certificate stays in use')
      return
    }
    const before = this.server.tlsMaterial
    this.server.setTls(checked.material)
    this.useTls(checked.material, before)
  }

  private useTls (material: TlsMaterial, before: TlsMaterial | null = null): void {
    this.cluster.tls = peerDialOptions(material)
    this.log.info(`TLS certificate ${material.subject} (serial ${material.serial}); ${material.ca === null ? 'no CA: peers are not verified (set tls-ca-cert-file)' : 'peers verified against tls-ca-cert-file'}`)
    // PROTOCOL.md §TLS: any connection may become a peer from now on; not a detail for info.
    if (material.ca === null && before !== null && before.ca !== null) {
      this.log.warn('CONFIG SET tls-ca-cert-file \'\': peer certificates are no longer verified; any connection may now become a peer (requirepass is the only gate)')
    }
  }

  /** CONFIG SET fsync/appendfsync: the log switches policy (FORMAT.md §Durability). */
  applyFsync (): void {
    const persistence = this.persistence
    if (persistence === null) return
    persistence.setFsync?.(this.options.fsync)
    this.cluster.durableAfterMs = persistence.fsync === 'always' ? 0 : DURABLE_AFTER_MS
  }

  get durability (): Durability | null {
    return this.persistence
  }

  /**
   * A write the log could not keep is refused (MISCONF); so is any write while
   * this node joins (PROTOCOL.md §Joining): until it is up it is no member the
   * others wait for, so a write it took could be older than a delete they have
   * already collected, and come back with it.
   */
  writeRefusal (): string | null {
    const failure = this.persistence?.failure ?? null
    if (failure !== null) return failure
    const state = this.cluster.selfState
    return state === 'joining' || state === 'syncing' ? errorText('joining') : null
  }

  /** EXEC's writes reach the peers as one MREPL command (PROTOCOL.md §Transactions). */
  atomically<T> (work: () => T): T {
    return this.cluster.replication.atomically(work)
  }

  /**
   * PROTOCOL.md §Acknowledgement: a write is answered once the live peers have it
   * and the log has it as --fsync says. Writes of one batch share one promise.
   */
  private writeBarrier (): Promise<void> | null {
    const cluster = this.cluster.barrier()
    const disk = this.persistence === null ? null : this.persistence.barrier()
    if (disk === null) return cluster
    if (cluster === null) return disk
    const last = this.lastBarrier
    if (last !== null && last.cluster === cluster && last.disk === disk) return last.both
    const both = Promise.all([cluster, disk]).then(() => undefined)
    this.lastBarrier = { cluster, disk, both }
    return both
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

  /** Where GET /metrics is served, once start() has listened; null when metrics are off. */
  metricsAddress (): { host: string, port: number } | null {
    return this.metricsServer?.address() ?? null
  }

  /**
   * Opens the data directory and loads it, listens, redials the members it
   * remembers, then joins the cluster of --join if given. The default data
   * directory is named after the port, so without --port it is opened once the
   * port is known; its loading is synchronous, so no client is served before.
   */
  async start (): Promise<{ host: string, port: number }> {
    const o = this.options
    const persist = o.persist && o.dataDir !== ''
    const dirKnown = o.dataDir !== undefined || (o.port !== undefined && o.port !== 0)
    try {
      if (persist && dirKnown) this.openData(o.dataDir ?? defaultDataDir(o.port ?? 0))
      const address = await this.server.listen()
      if (persist && !dirKnown) this.openData(defaultDataDir(address.port))
      await this.serveMetrics()
      this.cluster.advertise = o.advertise ?? `${address.host}:${address.port}`
      if (o.advertise === undefined && (address.host === '0.0.0.0' || address.host === '::')) {
        this.log.warn(`advertising ${this.cluster.advertise}, which other machines cannot dial: set --advertise HOST:PORT for a multi-machine cluster`)
      }
      await this.run()
      return address
    } catch (err) {
      await this.close()
      throw err
    }
  }

  /**
   * Starts a node that listens on no TCP port: it is reached only through
   * `server.handle(stream)` (the cluster simulator's links and clients), as
   * `advertise`. Its data is `deps.data` (or memory only).
   */
  async startDetached (advertise: string): Promise<void> {
    try {
      if (this.givenData !== undefined) this.useData(this.givenData)
      this.cluster.advertise = advertise
      await this.run()
    } catch (err) {
      await this.close()
      throw err
    }
  }

  /** --metrics-port: GET /metrics on --host (PROTOCOL.md §Metrics). */
  private async serveMetrics (): Promise<void> {
    const metrics = this.metrics
    const port = this.options.metricsPort
    if (metrics === null || port === undefined) return
    this.metricsServer = new MetricsServer(metrics, this.log)
    const { host, port: real } = await this.metricsServer.listen(this.options.host, port)
    this.log.info(`metrics on ${metricsUrl(host, real)}`)
    // PROTOCOL.md §Metrics: TLS covers the node's port only.
    if (this.server.tls && !isLoopback(host)) {
      this.log.warn(`metrics on ${metricsUrl(host, real)} are served in plaintext (no TLS, no password), on an address other machines can reach`)
    }
  }

  /** Once the data is loaded and the address known: background work, the members remembered, --join. */
  private async run (): Promise<void> {
    const o = this.options
    this.stopExpiry = this.runtime.setInterval(() => this.expireKeys(), EXPIRY_EVERY_MS)
    const persistence = this.persistence
    const remembered = persistence === null ? [] : persistence.members()
    if (persistence !== null) {
      // PROTOCOL.md §Member removal: the removals this node knows, its own included.
      const cluster = this.cluster
      cluster.retired = new RetiredIds(persistence.removed())
      cluster.retired.onChanged = ids => persistence.saveRemoved(ids)
      if (cluster.retired.has(this.nodeId)) {
        cluster.removedReason = 'removed earlier, as its data directory records'
        this.log.warn(`this node (${this.nodeId}) was removed from its cluster (FORGET), as ${persistence.dir}/removed records: it serves its own data alone; to join a cluster, start it with an empty data directory`)
      }
      // FORMAT.md §Recovery: a restarted node rejoins the cluster it knew, --join or not.
      for (const m of remembered) {
        const member = cluster.learn(m.addr)
        // Its id from before: FORGET by address works before its link is up again.
        if (member !== undefined && member.id === '') member.id = m.id
      }
      cluster.onMembersChanged = members => persistence.saveMembers(members)
      // PROTOCOL.md §Tombstones across restarts: before any link is up.
      this.cluster.convergence.resume()
    }
    if (o.join !== undefined) {
      try {
        await this.cluster.join(o.join)
      } catch (err) {
        // A restarted member whose --join seed is down still has the others it remembers.
        if (remembered.length === 0 || !(err instanceof KeystoneError)) throw err
        this.log.warn(`${err.message}; carrying on with the ${remembered.length} member(s) this node remembers`)
        this.cluster.selfState = 'up'
      }
    }
  }

  private openData (dir: string): void {
    const o = this.options
    this.useData(this.givenData ?? Persistence.open({
      dir,
      fsync: o.fsync,
      repair: o.repairLog,
      compactMinSize: o.compactMinSize,
      compactPercentage: o.compactPercentage,
      onSynced: this.metrics === null ? undefined : seconds => this.metrics?.observeFsync(seconds)
    }, this.log, this.store.nodeId))
  }

  private useData (persistence: NodeData): void {
    this.persistence = persistence
    // PROTOCOL.md §Tombstones: acknowledgements count towards T once the peers' fsync has had its turn.
    this.cluster.durableAfterMs = persistence.fsync === 'always' ? 0 : DURABLE_AFTER_MS
    this.store.nodeId = persistence.nodeId
    // A node that had peers keeps tombstones, from its log too (PROTOCOL.md §Versions).
    // (A node started with --join will have peers too: its log's tombstones must survive the load.)
    if (persistence.members().length > 0 || this.options.join !== undefined) this.store.keepTombstones = true
    persistence.load(this.store)
  }

  /** Stops accepting, flushes replies to every client, stops timers. Idempotent. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      this.stopExpiry?.()
      this.stats.close()
      this.cluster.close()
      await this.metricsServer?.close()
      await this.server.close()
      await this.persistence?.close()
    })()
    return this.closing
  }

  private expireKeys (): void {
    for (let round = 0; round < EXPIRY_MAX_ROUNDS; round++) {
      if (this.store.expireSome(EXPIRY_SAMPLE) <= 0.25) break
    }
  }
}
