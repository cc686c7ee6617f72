import fs from 'node:fs'
import path from 'node:path'
import { BUCKETS, type Store } from '../store/store.js'
import { FILE_MODE, fsyncDirAsync } from './data-dir.js'
import { encodeEnd, encodeRecord, END_RECORD_SIZE, fileHeader, recordSize } from './record.js'

/** Key buckets encoded per step: about 1/256 of the store, a few ms for a million keys. */
const BUCKETS_PER_STEP = 16

const fdatasync = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fdatasync(fd, err => (err === null ? resolve() : reject(err))))

export interface SnapshotResult {
  bytes: number
  entries: number
}

/**
 * Writes every entry of the store (tombstones included) to `file`, a few buckets
 * per turn of the event loop so clients are served in between (FORMAT.md
 * §Compaction). Entries written after the walk began may be in it or not: the
 * log started with this snapshot has them, and replay keeps the newest version.
 * The file appears only when complete and on the disk: it is written as
 * `file.tmp`, fsynced, renamed, and the directory fsynced. `aborted()` is asked
 * between steps (the node is closing): the temp file is then removed.
 */
export async function writeSnapshot (store: Store, file: string, aborted: () => boolean): Promise<SnapshotResult | null> {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w', FILE_MODE)
  let closed = false
  try {
    let buf = Buffer.allocUnsafe(256 * 1024)
    let pos = fs.writeSync(fd, fileHeader('SNAP'), 0, undefined, 0)
    let entries = 0
    for (let b = 0; b < BUCKETS; b += BUCKETS_PER_STEP) {
      if (aborted()) return null
      let used = 0
      for (let i = b; i < b + BUCKETS_PER_STEP; i++) {
        store.forEachInBucket(i, (key, entry) => {
          const n = recordSize(key, entry)
          if (used + n > buf.length) {
            const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, used + n))
            buf.copy(bigger, 0, 0, used)
            buf = bigger
          }
          used = encodeRecord(buf, used, key, entry)
          entries++
        })
      }
      for (let done = 0; done < used;) done += fs.writeSync(fd, buf, done, used - done, pos + done)
      pos += used
      await new Promise(resolve => setImmediate(resolve)) // let clients in
    }
    const end = Buffer.allocUnsafe(END_RECORD_SIZE)
    encodeEnd(end, 0, entries)
    pos += fs.writeSync(fd, end, 0, end.length, pos)
    await fdatasync(fd)
    fs.closeSync(fd)
    closed = true
    if (aborted()) return null
    fs.renameSync(tmp, file)
    await fsyncDirAsync(path.dirname(file))
    return { bytes: pos, entries }
  } finally {
    if (!closed) fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
  }
}
