import fs from 'node:fs'
import { CommandError } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import type { Durability } from '../commands/types.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/store.js'
import { AppendLog, type AppendLogOptions, type FsyncPolicy } from './append-log.js'
import { DataDir, fsyncDir, type MemberRecord } from './data-dir.js'
import { listFiles, logName, snapshotName } from './files.js'
import { recover } from './recovery.js'
import { writeSnapshot } from './snapshot.js'

export interface PersistenceSettings {
  /** The data directory (created if missing). */
  dir: string
  fsync: FsyncPolicy
  /** --repair-log: skip damaged records at start-up instead of refusing to start. */
  repair: boolean
  /** No automatic compaction before the logs hold this many bytes. */
  compactMinSize: number
  /** Compact when the logs exceed this percentage of the snapshot's size; 0: never automatically. */
  compactPercentage: number
  /** Seconds each fdatasync of the log took (metrics); absent: not measured. */
  onSynced?: (seconds: number) => void
}

/** The log is retried, fsynced (everysec) and checked for compaction this often, ms. */
const TICK_MS = 100
const FSYNC_EVERY_MS = 1000
/** After a failed compaction, the next automatic one waits this long, ms. */
const COMPACT_RETRY_MS = 10_000

/**
 * A node's data on disk (FORMAT.md): the locked data directory, recovery into
 * the store at start, the log every write is appended to, and compaction into a
 * snapshot when the log grows. Writes to the store are logged by a store
 * listener, local and merged alike.
 */
/**
 * What a node keeps across restarts, as node.ts uses it: the data directory
 * (Persistence), or a stand-in (the cluster simulator keeps it in memory).
 */
export interface NodeData extends Durability {
  /** The node id kept here (the fresh one given on first use). */
  readonly nodeId: string
  members: () => MemberRecord[]
  saveMembers: (members: readonly MemberRecord[]) => void
  removed: () => Map<string, string>
  saveRemoved: (removed: ReadonlyMap<string, string>) => void
  /** Loads what is kept into the store, then keeps every write to it from now on. */
  load: (store: Store) => void
  /** Resolves when the writes so far are kept as the fsync policy says; null if they are. */
  barrier: () => Promise<void> | null
  /** Switches the fsync policy while the node runs (CONFIG SET); absent where it cannot change. */
  setFsync?: (policy: FsyncPolicy) => void
  close: () => Promise<void>
}

export class Persistence implements NodeData {
  readonly dir: string
  fsync: FsyncPolicy
  readonly nodeId: string
  /** The MISCONF error text while the log cannot be written; null when it can. */
  failure: string | null = null
  private store: Store | null = null
  private current: AppendLog | null = null
  private gen = 0
  private snapshotBytes = 0
  /** Bytes of the logs before the current one that the snapshot does not cover yet. */
  private olderLogBytes = 0
  private timer: NodeJS.Timeout | null = null
  private lastFsyncAt = Date.now()
  private compacting: Promise<void> | null = null
  private nextCompactAt = 0
  private closing: Promise<void> | null = null
  private readonly stats = { compactions: 0, lastCompactionOk: true, recoveredRecords: 0, recoveryMs: 0 }
  private readonly logOptions: AppendLogOptions

  private constructor (private readonly data: DataDir, freshId: string, private readonly settings: PersistenceSettings, private readonly log: Logger) {
    this.dir = data.dir
    this.fsync = settings.fsync
    this.nodeId = data.nodeId(freshId)
    // Written by versions that had a tombstone horizon; the rule that replaced it needs nothing kept (PROTOCOL.md §Tombstones).
    if (data.dropHorizonOwed()) log.info(`${this.dir}/horizon-owed is from an older version (the tombstone horizon is gone); removed it`)
    this.logOptions = {
      policy: settings.fsync,
      onSynced: settings.onSynced,
      describe: err => new CommandError(errorText('misconf', err.message)),
      onFailure: err => {
        if (err !== null) {
          this.failure = errorText('misconf', err.message)
          this.log.error(`cannot write the log in ${this.dir}: ${err.message}; refusing writes until it works again`)
        } else if (this.failure !== null) {
          this.failure = null
          this.log.info(`the log in ${this.dir} can be written again; accepting writes`)
        }
      }
    }
  }

  /** Opens and locks the data directory; reads (or makes) the node id. Throws a KeystoneError. */
  static open (settings: PersistenceSettings, log: Logger, freshId: string): Persistence {
    const data = DataDir.open(settings.dir)
    try {
      return new Persistence(data, freshId, settings, log)
    } catch (err) {
      data.unlock()
      throw err
    }
  }

  /** The cluster members this node last knew. */
  members (): MemberRecord[] {
    return this.data.members()
  }

  saveMembers (members: readonly MemberRecord[]): void {
    try {
      this.data.saveMembers(members)
    } catch (err) {
      this.log.warn(`cannot save the member list in ${this.dir}: ${(err as Error).message}`)
    }
  }

  /** Node ids removed from the cluster for good, with their last address. */
  removed (): Map<string, string> {
    return this.data.removed()
  }

  saveRemoved (removed: ReadonlyMap<string, string>): void {
    try {
      this.data.saveRemoved(removed)
    } catch (err) {
      this.log.warn(`cannot save the removed members in ${this.dir}: ${(err as Error).message}`)
    }
  }

  /** Loads the snapshot and logs into the store, then logs every write to it from now on. */
  load (store: Store): void {
    const started = Date.now()
    const r = recover(this.dir, store, { repair: this.settings.repair, log: this.log })
    this.stats.recoveredRecords = r.records
    this.stats.recoveryMs = Date.now() - started
    this.snapshotBytes = r.snapshotBytes
    const last = r.logs[r.logs.length - 1]
    if (last !== undefined) {
      this.gen = last.gen
      this.current = AppendLog.reopen(this.file(logName(last.gen)), last.size, this.logOptions)
    } else {
      this.gen = Math.max(1, r.snapshotGen)
      this.current = AppendLog.create(this.file(logName(this.gen)), this.logOptions)
      fsyncDir(this.dir)
    }
    for (const l of r.logs) if (l.gen !== this.gen) this.olderLogBytes += l.size
    if (r.records > 0) this.log.info(`loaded ${store.size} keys from ${this.dir} (${r.records} records) in ${this.stats.recoveryMs} ms`)
    this.store = store
    store.onWrite((key, entry, _local, fields) => this.current?.append(key, entry, fields))
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
    // Repaired files still hold the damaged bytes: a compaction replaces them.
    if (r.repaired > 0) void this.compact()
  }

  /** Resolves when every write so far is as safe as --fsync says; null if it is; rejects with a MISCONF error. */
  barrier (): Promise<void> | null {
    return this.current === null ? null : this.current.barrier()
  }

  /**
   * CONFIG SET appendfsync: every log (the current one, and those a compaction
   * makes) follows the new policy from its next write. No write waiting for an
   * fdatasync is stranded: a running one still settles its groups, and the
   * groups written meanwhile get the next. Moving to always, what is written but
   * not yet on the disk is fsynced now.
   */
  setFsync (policy: FsyncPolicy): void {
    this.fsync = policy
    this.logOptions.policy = policy
    this.lastFsyncAt = Date.now()
    if (policy === 'always') this.current?.tick()
  }

  /** Bytes in the logs since the snapshot. */
  get logBytes (): number {
    return this.olderLogBytes + (this.current?.size ?? 0)
  }

  /** Starts a compaction (BGREWRITEAOF); false if one is running. */
  compact (): boolean {
    if (this.compacting !== null || this.closing !== null || this.store === null) return false
    this.compacting = this.runCompaction()
      .then(() => {
        this.stats.compactions++
        this.stats.lastCompactionOk = true
      }, err => {
        this.stats.lastCompactionOk = false
        this.nextCompactAt = Date.now() + COMPACT_RETRY_MS
        this.log.warn(`compaction failed: ${(err as Error).message}; the log goes on, next attempt in ${COMPACT_RETRY_MS / 1000} s`)
      })
      .finally(() => { this.compacting = null })
    return true
  }

  info (): Record<string, string | number> {
    return {
      aof_enabled: 1,
      aof_fsync: this.fsync,
      keystone_data_dir: this.dir,
      aof_rewrite_in_progress: this.compacting === null ? 0 : 1,
      aof_rewrites: this.stats.compactions,
      aof_last_bgrewrite_status: this.stats.lastCompactionOk ? 'ok' : 'err',
      aof_last_write_status: this.failure === null ? 'ok' : 'err',
      aof_current_size: this.logBytes,
      aof_base_size: this.snapshotBytes,
      keystone_loaded_records: this.stats.recoveredRecords,
      keystone_load_time_ms: this.stats.recoveryMs
    }
  }

  /** Finishes (or abandons) a compaction, writes and fsyncs the log, unlocks. Idempotent. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer !== null) clearInterval(this.timer)
      if (this.compacting !== null) await this.compacting
      const log = this.current
      this.current = null
      try {
        await log?.close()
      } catch (err) {
        this.log.error(`could not write the last records to ${this.dir}: ${(err as Error).message}`)
      } finally {
        this.data.unlock()
      }
    })()
    return this.closing
  }

  private file (name: string): string {
    return this.data.file(name)
  }

  private tick (): void {
    const log = this.current
    if (log === null) return
    const now = Date.now()
    if (log.failure !== null || (this.fsync === 'everysec' && now - this.lastFsyncAt >= FSYNC_EVERY_MS)) {
      this.lastFsyncAt = now
      log.tick()
    }
    const pct = this.settings.compactPercentage
    if (pct > 0 && this.compacting === null && this.failure === null && now >= this.nextCompactAt) {
      const bytes = this.logBytes
      if (bytes >= this.settings.compactMinSize && bytes >= this.snapshotBytes * pct / 100) {
        this.log.info(`compacting: the log holds ${bytes} bytes, the snapshot ${this.snapshotBytes}`)
        this.compact()
      }
    }
  }

  /**
   * FORMAT.md §Compaction: start log N+1, write snapshot N+1 of the store beside
   * it, then drop generation N. At every moment the files on disk hold every
   * acknowledged write: until snapshot N+1 is complete, snapshot N and logs N
   * and N+1 do.
   */
  private async runCompaction (): Promise<void> {
    const store = this.store
    const old = this.current
    if (store === null || old === null) return
    if (old.failure !== null) throw new Error('the log cannot be written')
    const gen = this.gen + 1
    const next = await AppendLog.createAsync(this.file(logName(gen)), this.logOptions)
    if (this.closing !== null || this.current !== old) {
      await next.close()
      return
    }
    // The cut: records so far go to the old log, every later one to the new.
    old.flush()
    this.current = next
    this.gen = gen
    this.olderLogBytes += old.size
    const oldClosed = old.close()
    oldClosed.catch(() => {}) // awaited below
    const started = Date.now()
    const snap = await writeSnapshot(store, this.file(snapshotName(gen)), () => this.closing !== null)
    await oldClosed
    if (snap === null) return // closing: the logs still hold everything
    const listing = listFiles(this.dir)
    for (const g of listing.snapshots) if (g < gen) fs.rmSync(this.file(snapshotName(g)), { force: true })
    for (const g of listing.logs) if (g < gen) fs.rmSync(this.file(logName(g)), { force: true })
    this.snapshotBytes = snap.bytes
    this.olderLogBytes = 0
    this.log.info(`compacted: snapshot of ${snap.entries} entries (${snap.bytes} bytes) in ${Date.now() - started} ms`)
  }
}
