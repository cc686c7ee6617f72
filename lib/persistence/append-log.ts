import fs from 'node:fs'
import type { Entry } from '../store/entry.js'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { FILE_MODE, fsyncDirAsync } from './data-dir.js'
import { encodeRecord, FILE_HEADER_SIZE, fileHeader, recordSize } from './record.js'

/** --fsync: when the log is flushed to the disk itself (FORMAT.md §Durability). */
export type FsyncPolicy = 'always' | 'everysec' | 'no'
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'everysec', 'no']

/** Pending bytes are kept in a buffer of this size; a bigger one (a large value) is dropped after use. */
const BUFFER_BYTES = 64 * 1024

/**
 * A group of records and the promise that they are as safe as the policy
 * promises: written to the OS (everysec, no) or on the disk (always). The
 * promise is made only if someone waits: replicated writes nobody waits for
 * cost no promise.
 */
class Group {
  settled = false
  private error: Error | null = null
  private promise: Promise<void> | null = null
  private resolveFn: (() => void) | null = null
  private rejectFn: ((err: Error) => void) | null = null

  wait (): Promise<void> {
    if (this.promise === null) {
      if (this.settled) return this.error === null ? Promise.resolve() : Promise.reject(this.error)
      this.promise = new Promise((resolve, reject) => {
        this.resolveFn = resolve
        this.rejectFn = reject
      })
    }
    return this.promise
  }

  resolve (): void {
    if (this.settled) return
    this.settled = true
    this.resolveFn?.()
  }

  reject (err: Error): void {
    if (this.settled) return
    this.settled = true
    this.error = err
    this.rejectFn?.(err)
  }
}

export interface AppendLogOptions {
  /** Read at every flush and tick, so a change (Persistence.setFsync) applies from the next write. */
  policy: FsyncPolicy
  /** The error a waiting client gets for a failed write or fsync (a MISCONF reply). */
  describe: (err: Error) => Error
  /** Called on a failure (once per failure) and when writing works again. */
  onFailure: (err: Error | null) => void
  /**
   * Called after each fdatasync that worked, with the seconds it took (the
   * keystone_log_fsync_seconds histogram): a plain callback, so the log knows
   * nothing of metrics.
   */
  onSynced?: (seconds: number) => void
}

/**
 * One log file being appended to (FORMAT.md §Log files). Records of one turn of
 * the event loop are encoded into one buffer and written with one write(2) after
 * the turn's commands ran and before their replies go out: a reply never
 * acknowledges a record the OS does not have, so kill -9 loses nothing
 * acknowledged. With `always`, replies also wait for fdatasync; the records of
 * every turn that ends while an fdatasync runs share the next one (group commit).
 */
export class AppendLog {
  /** Bytes in the file. */
  size: number
  /** Bytes known to be on the disk. */
  private syncedSize: number
  private buf = Buffer.allocUnsafe(BUFFER_BYTES)
  private used = 0
  /** The records in `buf`. */
  private turn: Group | null = null
  /** The newest group not yet safe. */
  private last: Group | null = null
  /** Written, waiting for the next fdatasync (always). */
  private unsynced: Group[] = []
  private syncing: Promise<void> | null = null
  private scheduled = false
  failure: Error | null = null
  private closed = false

  private constructor (readonly file: string, private readonly fd: number, size: number, private readonly options: AppendLogOptions) {
    this.size = size
    this.syncedSize = size
  }

  /** A new, empty log file (its header on the disk). The caller fsyncs the directory. */
  static create (file: string, options: AppendLogOptions): AppendLog {
    const fd = fs.openSync(file, 'wx+', FILE_MODE)
    const header = fileHeader('LOG ')
    fs.writeSync(fd, header, 0, header.length, 0)
    fs.fsyncSync(fd)
    return new AppendLog(file, fd, header.length, options)
  }

  /**
   * create() off the event loop, directory fsync included: a compaction prepares
   * the next log while clients are served, then switches to it at once.
   */
  static async createAsync (file: string, options: AppendLogOptions): Promise<AppendLog> {
    // Plain descriptors, not FileHandles: a FileHandle closes its descriptor when collected.
    const fd = await promisify(fs.open)(file, 'wx+', FILE_MODE)
    try {
      const header = fileHeader('LOG ')
      await promisify(fs.write)(fd, header, 0, header.length, 0)
      await promisify(fs.fsync)(fd)
      await fsyncDirAsync(path.dirname(file))
    } catch (err) {
      fs.closeSync(fd)
      fs.rmSync(file, { force: true })
      throw err
    }
    return new AppendLog(file, fd, FILE_HEADER_SIZE, options)
  }

  /** An existing log, appended to from `size` (its intact length, as recovery found it). */
  static reopen (file: string, size: number, options: AppendLogOptions): AppendLog {
    const fd = fs.openSync(file, 'r+')
    try {
      if (fs.fstatSync(fd).size !== size) fs.ftruncateSync(fd, size)
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
    return new AppendLog(file, fd, size, options)
  }

  /** Queues the record of a write; it goes to the OS at the end of this turn. */
  append (key: string, entry: Entry, fields?: readonly string[]): void {
    const n = recordSize(key, entry, fields)
    if (this.used + n > this.buf.length) this.grow(n)
    this.used = encodeRecord(this.buf, this.used, key, entry, fields)
    if (this.turn === null) {
      this.turn = new Group()
      this.last = this.turn
    }
    if (!this.scheduled && !this.closed) {
      this.scheduled = true
      setImmediate(() => this.flush()) // after this turn's reads: every client's writes in one write(2)
    }
  }

  /** Resolves when every record so far is safe by the policy; null if they are; rejects if writing failed. */
  barrier (): Promise<void> | null {
    const last = this.last
    return last === null || last.settled ? null : last.wait()
  }

  /** Bytes not yet on the disk (written or not). */
  get unsyncedBytes (): number {
    return this.size + this.used - this.syncedSize
  }

  /** Writes the queued records to the OS. Never throws: a failure is recorded and reported. */
  flush (): void {
    this.scheduled = false
    if (this.used === 0) return
    let done = 0
    try {
      while (done < this.used) done += fs.writeSync(this.fd, this.buf, done, this.used - done, this.size + done)
    } catch (err) {
      // Part of a record may be in the file: cut it off, so the next write follows
      // the last whole record. The records stay queued and are written again later.
      if (done > 0) try { fs.ftruncateSync(this.fd, this.size) } catch { /* the next write overwrites it */ }
      this.fail(err as Error, this.turn)
      this.turn = null
      return
    }
    this.size += this.used
    this.used = 0
    if (this.buf.length > BUFFER_BYTES) this.buf = Buffer.allocUnsafe(BUFFER_BYTES)
    const group = this.turn
    this.turn = null
    if (this.options.policy === 'always') {
      if (group !== null) this.unsynced.push(group)
      this.startSync()
    } else {
      group?.resolve()
      if (this.failure !== null) this.recovered()
    }
  }

  /**
   * Starts an fdatasync of everything written, unless one runs: the groups
   * written meanwhile then share the next one, started when it ends.
   */
  private startSync (): void {
    if (this.syncing !== null || this.closed || (this.syncedSize === this.size && this.unsynced.length === 0)) return
    const target = this.size
    const groups = this.unsynced
    this.unsynced = []
    const started = performance.now()
    this.syncing = new Promise<void>(resolve => {
      fs.fdatasync(this.fd, err => {
        this.syncing = null
        if (err !== null) {
          this.fail(err, null)
          for (const g of groups) g.reject(this.options.describe(err))
        } else {
          this.options.onSynced?.((performance.now() - started) / 1000)
          if (target > this.syncedSize) this.syncedSize = target
          for (const g of groups) g.resolve()
          if (this.failure !== null && this.used === 0) this.recovered()
        }
        resolve()
        if (this.unsynced.length > 0) this.startSync()
      })
    })
  }

  /** Once a second (everysec), or more often after a failure: retry what failed, fsync what is written. */
  tick (): void {
    if (this.closed) return
    if (this.used > 0 && !this.scheduled) this.flush()
    if (this.options.policy !== 'no' || this.failure !== null) this.startSync()
  }

  /** Flushes, fsyncs and closes. Throws if the last records cannot be written. */
  async close (): Promise<void> {
    if (this.closed) return
    this.flush()
    while (this.syncing !== null) await this.syncing
    this.closed = true
    try {
      if (this.used > 0) throw this.failure ?? new Error('records could not be written')
      if (this.syncedSize !== this.size) await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, err => (err === null ? resolve() : reject(err))))
      this.syncedSize = this.size
    } finally {
      fs.closeSync(this.fd)
    }
  }

  private grow (n: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n))
    this.buf.copy(bigger, 0, 0, this.used)
    this.buf = bigger
  }

  private fail (err: Error, group: Group | null): void {
    group?.reject(this.options.describe(err))
    if (this.failure === null) {
      this.failure = err
      this.options.onFailure(err)
    }
  }

  private recovered (): void {
    this.failure = null
    this.options.onFailure(null)
  }
}
