import { crc32 } from 'node:zlib'
import { copyBytes } from '../store/bytes.js'
import { decodeState, encodedSize, encodeState } from '../store/counter-codec.js'
import { HASH_VALUE, type Entry } from '../store/entry.js'
import { decodeHash, encodedHashSize, encodeHash } from '../store/hash-codec.js'

// FORMAT.md: the bytes of log and snapshot files. Both are a 16-byte file header
// followed by records; a record is one entry (a value or a tombstone, with its
// version and expiry) behind a length and a CRC-32 of its body. Version 2 adds
// counter records (PROTOCOL.md §Counters), version 3 hash records
// (PROTOCOL.md §Hashes), version 4 sets in hash records (§Sets: a state whose
// first byte is 3, which a Keystone before sets would take for damage); files
// of versions 1 to 3 still load.

export const FILE_HEADER_SIZE = 16
const MAGIC = 'KEYSTONE'
export type FileKind = 'LOG ' | 'SNAP'
export const FORMAT_VERSION = 4
/** The oldest file format this Keystone still reads. */
const OLDEST_READABLE = 1

/** Record header: u32 body length, u32 CRC-32 of the body. */
export const RECORD_HEADER_SIZE = 8
/** Body bytes before the node id: kind, wall, logical, expiresAt, node id length. */
const FIXED_BODY = 1 + 8 + 4 + 8 + 1
/** The smallest body: fixed part, an empty node id, a key length. */
const MIN_BODY = FIXED_BODY + 4
/** A body larger than this is not one we wrote (values are at most 512 MB). */
export const MAX_BODY = 1024 * 1024 * 1024

export const KIND_VALUE = 1
export const KIND_TOMBSTONE = 2
/** Last record of a snapshot: its body is the kind byte and a u32 count of entries before it. */
export const KIND_END = 3
/** A counter: its body's value bytes are the counter's state (base, contributions, marks). */
export const KIND_COUNTER = 4
/**
 * A hash: its body's value bytes are a hash state (FORMAT.md §Hash state): a
 * write's record holds the fields it changed, a snapshot's the whole hash.
 */
export const KIND_HASH = 5

/** Whether `kind` is that of a record holding an entry. */
export function isEntryKind (kind: number | undefined): boolean {
  return kind === KIND_VALUE || kind === KIND_TOMBSTONE || kind === KIND_COUNTER || kind === KIND_HASH
}
const END_BODY = 1 + 4

export function fileHeader (kind: FileKind): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE)
  b.write(MAGIC, 0, 'latin1')
  b.write(kind, 8, 'latin1')
  b.writeUInt32LE(FORMAT_VERSION, 12)
  return b
}

/** Null when the header is what we write for `kind`, else what is wrong with it. */
export function checkFileHeader (b: Buffer, kind: FileKind): string | null {
  if (b.length < FILE_HEADER_SIZE) return 'the file header is incomplete'
  if (b.toString('latin1', 0, 8) !== MAGIC) return 'not a Keystone data file (bad magic)'
  if (b.toString('latin1', 8, 12) !== kind) return `not a ${kind === 'SNAP' ? 'snapshot' : 'log'} file`
  const version = b.readUInt32LE(12)
  if (version < OLDEST_READABLE || version > FORMAT_VERSION) return `format version ${version}; this Keystone reads versions ${OLDEST_READABLE} to ${FORMAT_VERSION}`
  return null
}

/** Bytes the record of this entry takes (of a hash: of the named fields, or of all when none are named). */
export function recordSize (key: string, entry: Entry, fields?: readonly string[]): number {
  const body = entry.counter !== undefined
    ? encodedSize(entry.counter)
    : entry.hash !== undefined ? encodedHashSize(entry.hash, fields ?? null) : entry.value === null ? 0 : entry.value.length
  return RECORD_HEADER_SIZE + FIXED_BODY + entry.node.length + 4 + key.length + body
}

/**
 * Writes the record of (key, entry) at `at` in `buf`, which must have
 * recordSize(key, entry) bytes free there. Returns the offset after it. Keys
 * and node ids are latin1 strings: one char, one byte.
 */
export function encodeRecord (buf: Buffer, at: number, key: string, entry: Entry, fields?: readonly string[]): number {
  let o = at + RECORD_HEADER_SIZE
  buf[o] = entry.counter !== undefined ? KIND_COUNTER : entry.hash !== undefined ? KIND_HASH : entry.value === null ? KIND_TOMBSTONE : KIND_VALUE
  buf.writeDoubleLE(entry.wall, o + 1)
  buf.writeUInt32LE(entry.logical, o + 9)
  buf.writeDoubleLE(entry.expiresAt, o + 13)
  buf[o + 21] = entry.node.length
  o += FIXED_BODY
  o += buf.write(entry.node, o, 'latin1')
  buf.writeUInt32LE(key.length, o)
  o += 4
  o += buf.write(key, o, 'latin1')
  if (entry.counter !== undefined) {
    encodeState(entry.counter, buf, o)
    o += encodedSize(entry.counter)
  } else if (entry.hash !== undefined) {
    o = encodeHash(entry.hash, fields ?? null, buf, o)
  } else if (entry.value !== null) {
    o += copyBytes(entry.value, buf, o)
  }
  return seal(buf, at, o)
}

/** The end record of a snapshot holding `count` entries. */
export function encodeEnd (buf: Buffer, at: number, count: number): number {
  const o = at + RECORD_HEADER_SIZE
  buf[o] = KIND_END
  buf.writeUInt32LE(count >>> 0, o + 1)
  return seal(buf, at, o + END_BODY)
}

export const END_RECORD_SIZE = RECORD_HEADER_SIZE + END_BODY

function seal (buf: Buffer, at: number, end: number): number {
  const bodyStart = at + RECORD_HEADER_SIZE
  buf.writeUInt32LE(end - bodyStart, at)
  buf.writeUInt32LE(crc32(buf.subarray(bodyStart, end)), at + 4)
  return end
}

/** A record read back. `value` is a view into the read buffer: copy it to keep it. */
export interface DecodedRecord {
  kind: number
  key: string
  entry: Entry
  /** KIND_END: the entry count. */
  count: number
}

/** read(): the buffer ends inside the record; `need` bytes from its start are wanted (at the end of a file: a torn tail). */
export const SHORT = -1
/** read(): the record is damaged; `why` says how. */
export const BAD = -2

/**
 * Reads the record at `at` of buf[..end] into `out` (reused: the caller copies
 * what it keeps). The last node id decoded is remembered so a run of records
 * from one node decodes it once. Returns the offset after the record, or SHORT
 * or BAD: no result object, as a million records are read at start-up.
 */
export class RecordReader {
  readonly out: DecodedRecord = { kind: 0, key: '', count: 0, entry: { value: null, expiresAt: 0, wall: 0, logical: 0, node: '' } }
  /** After SHORT: bytes the record needs from its start. */
  need = 0
  /** After BAD: what is wrong. */
  why = ''
  private lastNode: Buffer = Buffer.alloc(0)
  private lastNodeText = ''

  read (buf: Buffer, at: number, end: number): number {
    if (end - at < RECORD_HEADER_SIZE) return this.short(RECORD_HEADER_SIZE)
    const length = buf.readUInt32LE(at)
    if (length > MAX_BODY) return this.bad(`record length ${length} is impossible`)
    if (end - at < RECORD_HEADER_SIZE + length) return this.short(RECORD_HEADER_SIZE + length)
    const b = at + RECORD_HEADER_SIZE
    const bodyEnd = b + length
    if (crc32(buf.subarray(b, bodyEnd)) !== buf.readUInt32LE(at + 4)) return this.bad('checksum mismatch')
    const kind = buf[b] as number
    const out = this.out
    out.kind = kind
    if (kind === KIND_END) {
      if (length !== END_BODY) return this.bad('bad end record')
      out.count = buf.readUInt32LE(b + 1)
      return bodyEnd
    }
    if (!isEntryKind(kind) || length < MIN_BODY) return this.bad(`unknown record kind ${kind}`)
    const nodeLen = buf[b + 21] as number
    let o = b + FIXED_BODY
    if (o + nodeLen + 4 > bodyEnd) return this.bad('node id overruns the record')
    if (nodeLen !== this.lastNode.length || buf.compare(this.lastNode, 0, nodeLen, o, o + nodeLen) !== 0) { // no allocation when it repeats
      this.lastNode = Buffer.from(buf.subarray(o, o + nodeLen))
      this.lastNodeText = this.lastNode.toString('latin1')
    }
    o += nodeLen
    const keyLen = buf.readUInt32LE(o)
    o += 4
    if (o + keyLen > bodyEnd || (kind === KIND_TOMBSTONE && o + keyLen !== bodyEnd)) return this.bad('key overruns the record')
    const entry = out.entry
    entry.wall = buf.readDoubleLE(b + 1)
    entry.logical = buf.readUInt32LE(b + 9)
    entry.expiresAt = buf.readDoubleLE(b + 13)
    entry.node = this.lastNodeText
    out.key = buf.toString('latin1', o, o + keyLen)
    entry.value = kind === KIND_VALUE ? buf.subarray(o + keyLen, bodyEnd) : null
    entry.counter = undefined
    entry.hash = undefined
    if (kind === KIND_HASH) {
      const hash = decodeHash(buf.subarray(o + keyLen, bodyEnd))
      if (typeof hash === 'string') return this.bad(hash)
      entry.hash = hash
      entry.value = hash.live > 0 ? HASH_VALUE : null
    }
    if (kind === KIND_COUNTER) {
      const state = decodeState(buf.subarray(o + keyLen, bodyEnd))
      if (typeof state === 'string') return this.bad(state)
      entry.counter = state
      entry.value = state.base // the store works the value out again
    }
    return bodyEnd
  }

  private short (need: number): number {
    this.need = need
    return SHORT
  }

  private bad (why: string): number {
    this.why = why
    return BAD
  }
}
