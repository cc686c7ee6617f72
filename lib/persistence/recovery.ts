import fs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { KeystoneError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/store.js'
import { listFiles, logName, snapshotName } from './files.js'
import { BAD, checkFileHeader, FILE_HEADER_SIZE, isEntryKind, KIND_END, MAX_BODY, RECORD_HEADER_SIZE, RecordReader, type DecodedRecord, type FileKind } from './record.js'

// FORMAT.md §Recovery: the newest snapshot, then every log from its generation on.

/** Files are read in chunks of this size (a bigger record gets a bigger buffer). */
const CHUNK = 4 * 1024 * 1024
/** How far past a bad record we look for an intact one before calling it a torn tail. */
const SCAN_LIMIT = 64 * 1024 * 1024

export interface RecoveryOptions {
  /** --repair-log: skip damaged records instead of refusing to start. */
  repair: boolean
  log: Logger
}

export interface Recovered {
  /** Generation of the snapshot loaded (0: none). */
  snapshotGen: number
  snapshotBytes: number
  /** Logs of the current state, oldest first, with their intact sizes. */
  logs: Array<{ gen: number, size: number }>
  /** Records applied (snapshot entries and log records). */
  records: number
  /** Damaged bytes skipped by --repair-log: the node should compact at once. */
  repaired: number
}

function corrupt (file: string, offset: number, why: string, repairable: boolean): KeystoneError {
  const hint = repairable
    ? ' Start with --repair-log to skip the damaged bytes and keep every intact record (what was in them is lost), or restore the data directory from a replica.'
    : ''
  return new KeystoneError('KS_ERR_DATA', `${file} is corrupt at offset ${offset}: ${why}.${hint}`)
}

/** The OS writes files back in pages of (at least) this many bytes. */
const PAGE = 4096

/** Whether buf[0..end), at file offset `base`, holds a whole page of zeros. */
function zeroPageIn (buf: Buffer, base: number, end: number): boolean {
  for (let p = Math.ceil(base / PAGE) * PAGE - base; p + PAGE <= end; p += PAGE) {
    let zero = true
    for (let i = p; i < p + PAGE && zero; i++) zero = buf[i] === 0
    if (zero) return true
  }
  return false
}

/** Where the first intact record starts in buf[from..end), or -1. */
function intactRecordIn (buf: Buffer, from: number, end: number): number {
  for (let p = from; p + RECORD_HEADER_SIZE < end; p++) {
    const length = buf.readUInt32LE(p)
    if (length < 5 || length > MAX_BODY || p + RECORD_HEADER_SIZE + length > end) continue
    const kind = buf[p + RECORD_HEADER_SIZE]
    if (!isEntryKind(kind) && kind !== KIND_END) continue
    if (crc32(buf.subarray(p + RECORD_HEADER_SIZE, p + RECORD_HEADER_SIZE + length)) === buf.readUInt32LE(p + 4)) return p
  }
  return -1
}

interface ReadOutcome {
  /** Offset after the last intact record. */
  end: number
  records: number
  /** Bytes skipped by repair. */
  skipped: number
  /** A torn tail from `end` to the end of the file. */
  torn: boolean
  /** A snapshot's end record was read. */
  complete: boolean
}

/**
 * Reads every record of a file, calling `apply` for each entry. A damaged
 * record is a torn tail when no intact record follows it (a crash during the
 * last write); otherwise the file is corrupt in the middle, which stops the node
 * unless `repair` is set, in which case the damaged bytes are skipped.
 */
export function readFile (file: string, kind: FileKind, repair: boolean, apply: (r: DecodedRecord) => void, newest = false): ReadOutcome {
  // A snapshot's values are all live: the store keeps views into fresh read buffers
  // (no copy each). A log's may be overwritten later in it: they are copied, lest a
  // few survivors pin every buffer of a long log.
  const fresh = kind === 'SNAP'

  const fd = fs.openSync(file, 'r')
  try {
    const fileSize = fs.fstatSync(fd).size
    const header = Buffer.alloc(FILE_HEADER_SIZE)
    const got = fs.readSync(fd, header, 0, FILE_HEADER_SIZE, 0)
    if (got < FILE_HEADER_SIZE && kind === 'LOG ') {
      // Created, and the crash came before its header reached the disk: an empty log.
      return { end: 0, records: 0, skipped: 0, torn: true, complete: false }
    }
    const bad = checkFileHeader(header.subarray(0, got), kind)
    if (bad !== null) throw corrupt(file, 0, bad, false)
    const reader = new RecordReader()
    let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(fileSize, 1)))
    let base = FILE_HEADER_SIZE // file offset of buf[0]
    let filled = 0
    let at = 0
    let records = 0
    let skipped = 0
    let complete = false
    /** Reads on, keeping the unread part at the front of a buffer of at least `need` bytes. */
    const fill = (need = 0): boolean => {
      if (base + filled >= fileSize) return false
      const unread = filled - at
      const size = Math.max(buf.length, need, unread === buf.length ? buf.length * 2 : 0)
      // A snapshot's buffers belong to the store once read: never written again.
      const next = fresh || size !== buf.length ? Buffer.allocUnsafe(size) : buf
      buf.copy(next, 0, at, filled)
      buf = next
      base += at
      filled = unread
      at = 0
      const n = fs.readSync(fd, buf, filled, buf.length - filled, base + filled)
      filled += n
      return n > 0
    }
    fill()
    for (;;) {
      if (at === filled && base + filled >= fileSize) break
      const next = reader.read(buf, at, filled)
      if (next > 0) {
        if (complete) throw corrupt(file, base + at, 'data after the end record', false)
        if (reader.out.kind === KIND_END) {
          if (kind !== 'SNAP' || (reader.out.count !== records && !repair)) throw corrupt(file, base + at, `end record says ${reader.out.count} entries, ${records} read`, false)
          complete = true
        } else {
          apply(reader.out)
          records++
        }
        at = next
        continue
      }
      if (next !== BAD && base + filled < fileSize) {
        fill(reader.need) // a record bigger than the buffer gets a buffer its size
        continue
      }
      // Damaged (or cut short at the end of the file). Is anything intact after it?
      const offset = base + at
      const why = next === BAD ? reader.why : 'the file ends inside a record'
      const rest = Math.min(fileSize - offset, SCAN_LIMIT)
      const tail = Buffer.allocUnsafe(rest)
      fs.readSync(fd, tail, 0, rest, offset)
      const intact = intactRecordIn(tail, 1, rest)
      if (intact < 0 && (rest === fileSize - offset) && kind === 'LOG ') {
        return { end: offset, records, skipped, torn: true, complete }
      }
      // A power failure can leave pages of the newest log's unsynced tail unwritten
      // (zeros) while later pages made it: that too is a torn tail, not corruption.
      if (intact >= 0 && newest && zeroPageIn(tail, offset, intact)) {
        return { end: offset, records, skipped, torn: true, complete }
      }
      if (!repair) throw corrupt(file, offset, intact < 0 ? `${why}, and no intact record was found in the ${rest} bytes after it` : `${why}, with intact records after it (the next at offset ${offset + intact})`, true)
      if (intact < 0) return { end: offset, records, skipped: skipped + (fileSize - offset), torn: true, complete }
      skipped += intact
      base = offset + intact
      filled = 0
      at = 0
      fill()
    }
    if (kind === 'SNAP' && !complete) throw corrupt(file, fileSize, 'the snapshot has no end record (incomplete)', true)
    return { end: fileSize, records, skipped, torn: false, complete }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Loads a data directory into the store: removes leftovers of interrupted
 * writes, loads the newest snapshot, replays the logs after it, cuts a torn
 * tail off a log (with a warning). Throws a KeystoneError naming the file and
 * offset of a corrupt record unless `repair`.
 */
export function recover (dir: string, store: Store, options: RecoveryOptions): Recovered {
  const { log, repair } = options
  const listing = listFiles(dir)
  for (const tmp of listing.temps) fs.rmSync(tmp, { force: true })
  const snapshotGen = listing.snapshots[listing.snapshots.length - 1] ?? 0
  // Older generations are wholly in the newest snapshot: what a crash during the
  // cleanup after a compaction left behind.
  for (const gen of listing.snapshots) if (gen < snapshotGen) fs.rmSync(path.join(dir, snapshotName(gen)), { force: true })
  for (const gen of listing.logs) if (gen < snapshotGen) fs.rmSync(path.join(dir, logName(gen)), { force: true })

  // Store.restore: the digest and the tombstone queues are built as entries come in.
  const apply = (r: DecodedRecord): void => { store.restore(r.key, r.entry, true) }
  const keep = (r: DecodedRecord): void => { store.restore(r.key, r.entry, false) }
  const out: Recovered = { snapshotGen, snapshotBytes: 0, logs: [], records: 0, repaired: 0 }
  if (snapshotGen > 0) {
    const file = path.join(dir, snapshotName(snapshotGen))
    const r = readFile(file, 'SNAP', repair, keep)
    out.snapshotBytes = fs.statSync(file).size
    out.records += r.records
    out.repaired += r.skipped
    if (r.skipped > 0) log.warn(`${file}: skipped ${r.skipped} damaged bytes (--repair-log)`)
  }
  const newest = listing.logs[listing.logs.length - 1]
  for (const gen of listing.logs) {
    if (gen < snapshotGen) continue
    const file = path.join(dir, logName(gen))
    const r = readFile(file, 'LOG ', repair, apply, gen === newest)
    out.records += r.records
    out.repaired += r.skipped
    if (r.skipped > 0) log.warn(`${file}: skipped ${r.skipped} damaged bytes (--repair-log)`)
    const size = r.end
    if (r.torn) {
      const total = fs.statSync(file).size
      if (size < FILE_HEADER_SIZE) {
        log.warn(`${file}: no complete header (crash right after it was created); starting it afresh`)
        fs.rmSync(file)
        continue
      }
      log.warn(`${file}: torn record at offset ${size} (a crash during a write): cutting off the last ${total - size} bytes`)
      fs.truncateSync(file, size)
    }
    out.logs.push({ gen, size })
  }
  return out
}
