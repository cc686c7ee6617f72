import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { KeystoneError } from '../errors.js'

// FORMAT.md §Data directory: the directory itself, its lock, and the small files
// that say who this node is (node-id), which cluster it belongs to (members),
// and which nodes were removed from it for good (removed).

/** Data files are readable by the owner only; so is the directory. */
export const FILE_MODE = 0o600
export const DIR_MODE = 0o700

const LOCK = 'LOCK'
const NODE_ID = 'node-id'
const MEMBERS = 'members'
const REMOVED = 'removed'
/** Kept by versions that had a tombstone horizon: removed at start-up. */
const HORIZON_OWED = 'horizon-owed'

/** A member as the `members` file keeps it: its address, and its node id once known ('' before). */
export interface MemberRecord {
  readonly addr: string
  readonly id: string
}

/** Where a node keeps its data when --data-dir is not given: one directory per port. */
export function defaultDataDir (port: number, cwd = process.cwd()): string {
  return path.join(cwd, 'keystone-data', String(port))
}

function dataError (message: string): KeystoneError {
  return new KeystoneError('KS_ERR_DATA', message)
}

/** fsync of a directory: makes the creation, rename or removal of its files durable. */
export function fsyncDir (dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** fsyncDir on the thread pool: the event loop goes on serving clients meanwhile. */
export async function fsyncDirAsync (dir: string): Promise<void> {
  const fd = await promisify(fs.open)(dir, 'r')
  try {
    await promisify(fs.fsync)(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** writeFileAtomic on the thread pool (a file rewritten every few seconds must not stall clients). */
export async function writeFileAtomicAsync (file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`
  const handle = await fs.promises.open(tmp, 'w', FILE_MODE)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.promises.rename(tmp, file)
  await fsyncDirAsync(path.dirname(file))
}

/** Replaces `file` with `data` so that a crash leaves the old or the new content, never a mix. */
export function writeFileAtomic (file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w', FILE_MODE)
  try {
    fs.writeFileSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fsyncDir(path.dirname(file))
}

/** The start time of a process, from /proc (Linux): tells a live owner from a recycled pid. */
function processStart (pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Fields after the command name, which is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What a lock file says: `pid start-time`. */
function lockText (): string {
  return `${process.pid} ${processStart(process.pid) ?? '-'}\n`
}

/** Whether the process that wrote this lock text still runs. */
function holderRuns (text: string): boolean {
  const [pidText, start] = text.trim().split(' ')
  const pid = Number(pidText)
  if (!Number.isSafeInteger(pid) || pid <= 0) return false // unreadable: a torn write of a dead holder
  if (pid === process.pid && text !== lockText()) return false // our pid, recycled (a container's pid 1)
  if (!alive(pid)) return false
  // The pid runs; it is the holder unless it was recycled since (its start time differs).
  const now = processStart(pid)
  return start === undefined || start === '-' || now === null || now === start
}

/**
 * A data directory, opened: created if need be (mode 0700) and locked, so a
 * second node on it refuses to start. The lock is a file holding the owner's pid
 * and start time; a lock whose owner is gone (kill -9) is stale and taken over.
 * (Node has no flock(2); a pid check is what it can do, and the start time
 * guards against a recycled pid.)
 */
export class DataDir {
  private locked = false

  private constructor (readonly dir: string) {}

  static open (dir: string): DataDir {
    const d = new DataDir(path.resolve(dir))
    try {
      fs.mkdirSync(d.dir, { recursive: true, mode: DIR_MODE })
      const mode = fs.statSync(d.dir).mode & 0o777
      if ((mode & 0o077) !== 0) fs.chmodSync(d.dir, DIR_MODE)
    } catch (err) {
      throw dataError(`cannot use data directory ${d.dir}: ${(err as Error).message}`)
    }
    d.lock()
    return d
  }

  file (name: string): string {
    return path.join(this.dir, name)
  }

  private lock (): void {
    const lockFile = this.file(LOCK)
    const mine = lockText()
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        // Write the whole lock beside it, then link it in: link fails if a lock exists,
        // and nobody ever sees a half-written lock.
        const tmp = this.file(`${LOCK}.${process.pid}`)
        fs.writeFileSync(tmp, mine, { mode: FILE_MODE })
        try {
          fs.linkSync(tmp, lockFile)
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'EEXIST') throw err
          // A file system without hard links: an exclusive create does the job, except
          // that a node starting at the same instant could read a half-written lock.
          fs.writeFileSync(lockFile, mine, { mode: FILE_MODE, flag: 'wx' })
        } finally {
          fs.rmSync(tmp, { force: true })
        }
        this.locked = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw dataError(`cannot lock data directory ${this.dir}: ${(err as Error).message}`)
      }
      let held: string
      try {
        held = fs.readFileSync(lockFile, 'latin1')
      } catch {
        continue // gone meanwhile: try again
      }
      if (holderRuns(held)) {
        const pid = held.trim().split(' ')[0] ?? '?'
        throw dataError(`data directory ${this.dir} is in use by another keystone-server (pid ${pid}, ${lockFile}); give each node its own --data-dir`)
      }
      // Stale: move it aside, and put it back if what we moved was not the stale lock
      // (another node took it over between our read and our rename).
      const aside = this.file(`${LOCK}.stale.${process.pid}`)
      try {
        fs.renameSync(lockFile, aside)
      } catch {
        continue
      }
      const moved = fs.readFileSync(aside, 'latin1')
      if (moved !== held) {
        try { fs.linkSync(aside, lockFile) } catch { /* a third node took it: it holds it */ }
        fs.rmSync(aside, { force: true })
        throw dataError(`data directory ${this.dir} is being taken over by another keystone-server; give each node its own --data-dir`)
      }
      fs.rmSync(aside, { force: true })
    }
    throw dataError(`cannot lock data directory ${this.dir}: the lock keeps changing`)
  }

  /** Removes our lock (SIGTERM, close). */
  unlock (): void {
    if (!this.locked) return
    this.locked = false
    try {
      if (fs.readFileSync(this.file(LOCK), 'latin1') === lockText()) fs.rmSync(this.file(LOCK))
    } catch { /* already gone */ }
  }

  /** The node id kept here, or `fresh` written here first. */
  nodeId (fresh: string): string {
    const file = this.file(NODE_ID)
    let id: string
    try {
      id = fs.readFileSync(file, 'latin1').trim()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw dataError(`cannot read ${file}: ${(err as Error).message}`)
      writeFileAtomic(file, `${fresh}\n`)
      return fresh
    }
    if (!/^[\x21-\x7e]{1,255}$/.test(id)) throw dataError(`${file} does not hold a node id; remove it to get a new one`)
    return id
  }

  /** The cluster members last known (none on a first start): `<address> [<node id>]` lines. */
  members (): MemberRecord[] {
    return this.lines(MEMBERS).map(([addr, id]) => ({ addr: addr as string, id: id ?? '' }))
  }

  saveMembers (members: readonly MemberRecord[]): void {
    writeFileAtomic(this.file(MEMBERS), members.map(m => m.id === '' ? `${m.addr}\n` : `${m.addr} ${m.id}\n`).join(''))
  }

  /** Node ids removed from the cluster for good (FORGET), with the address each had: `<node id> <address>` lines. */
  removed (): Map<string, string> {
    return new Map(this.lines(REMOVED).map(([id, addr]) => [id as string, addr ?? '']))
  }

  saveRemoved (removed: ReadonlyMap<string, string>): void {
    writeFileAtomic(this.file(REMOVED), [...removed].map(([id, addr]) => `${id} ${addr}\n`).join(''))
  }

  /** A small file's non-empty lines, split on spaces; none if it does not exist. */
  private lines (name: string): string[][] {
    let text: string
    try {
      text = fs.readFileSync(this.file(name), 'latin1')
    } catch {
      return []
    }
    return text.split('\n').map(line => line.trim()).filter(line => line !== '').map(line => line.split(/ +/))
  }

  /** Removes `horizon-owed`, written by versions with a tombstone horizon; whether there was one. */
  dropHorizonOwed (): boolean {
    try {
      fs.rmSync(this.file(HORIZON_OWED))
      return true
    } catch {
      return false
    }
  }

}
