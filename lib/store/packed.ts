import { SMALL_VALUE_MAX, copyBytes, type Bytes } from './bytes.js'

// DESIGN.md §Memory per key. Most keys hold a small plain value (no counter, no hash
// fields), or are tombstones. Kept as an Entry object, such a key costs the
// object (64 bytes), a box for its wall-clock version (a double: 16 bytes) and
// its value; packed, it is one latin1 string: a header of 12 bytes (18 with an
// expiry) and the value's bytes, about 70 bytes a key less. The store keeps
// packed entries in its maps and unpacks one into a fresh Entry when a key is
// read; a write packs the new entry again. Anything else stays an object.
//
// Layout, one char per byte, numbers big-endian:
//   flags (TOMBSTONE, EXPIRES: the top 2 bits) and node (the low 14: an index
//   into the store's NodeTable) in 2 · wall (6) · logical (4) ·
//   expiresAt (6, with EXPIRES) · value
// (A V8 string's size is rounded up to 8 bytes: with 12 header bytes a
// 100-byte value's string is 128 bytes, with 13 it was 136.)

const TOMBSTONE = 0x80
const EXPIRES = 0x40
const HEADER = 12
const HEADER_WITH_EXPIRY = HEADER + 6
const MAX_48 = 2 ** 48
const MAX_32 = 2 ** 32
const MAX_NODES = 1 << 14

/**
 * What a packed entry holds: an Entry (entry.ts) without a counter or hash
 * (written here by shape, not imported: entry.ts's types reach hash.ts, which
 * packs its fields with this module).
 */
export interface PlainEntry {
  value: Bytes | null
  expiresAt: number
  wall: number
  logical: number
  node: string
  counter?: object
  hash?: object
}

/** Node ids as small numbers: a store sees few (its cluster's), and a packed entry names one in two bytes. */
export class NodeTable {
  private readonly ids: string[] = []
  private readonly index = new Map<string, number>()
  // The last id looked up: a node's own writes, or a peer's stream, name one id many times in a row.
  private lastId = ''
  private lastIndex = -1

  /** The id's number, made on first sight; -1 once the table is full (16,384 ids: the entry then stays an object). */
  indexOf (id: string): number {
    if (id === this.lastId && this.lastIndex >= 0) return this.lastIndex
    let i = this.index.get(id)
    if (i === undefined) {
      if (this.ids.length >= MAX_NODES) return -1
      i = this.ids.length
      this.ids.push(id)
      this.index.set(id, i)
    }
    this.lastId = id
    this.lastIndex = i
    return i
  }

  idOf (i: number): string {
    return this.ids[i] as string
  }
}

/** Header and value are written here, then read out as one flat string. */
const scratch = Buffer.allocUnsafe(HEADER_WITH_EXPIRY + SMALL_VALUE_MAX)

/** Writes n (< 2^48) as 6 big-endian bytes at `at`. */
function write48 (n: number, at: number): void {
  const hi = Math.floor(n / MAX_32)
  scratch[at] = hi >>> 8
  scratch[at + 1] = hi & 0xff
  scratch.writeUInt32BE(n - hi * MAX_32, at + 2)
}

function read48 (p: string, at: number): number {
  return (p.charCodeAt(at) * 256 + p.charCodeAt(at + 1)) * MAX_32 + read32(p, at + 2)
}

function read32 (p: string, at: number): number {
  return ((p.charCodeAt(at) << 24) | (p.charCodeAt(at + 1) << 16) | (p.charCodeAt(at + 2) << 8) | p.charCodeAt(at + 3)) >>> 0
}

const fits48 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < MAX_48

/**
 * The entry as one string, or undefined when it does not fit the layout (a
 * counter, a hash, a value over SMALL_VALUE_MAX bytes, a version or expiry out
 * of range, a full node table): the store keeps it as an object then.
 */
export function pack (e: PlainEntry, nodes: NodeTable): string | undefined {
  if (e.counter !== undefined || e.hash !== undefined) return undefined
  return packParts(e.value, e.expiresAt, e.wall, e.logical, e.node, nodes)
}

/** pack() of an entry given by its parts (no object to build for it: a hash field's). */
export function packParts (value: Bytes | null, expiresAt: number, wall: number, logical: number, nodeId: string, nodes: NodeTable): string | undefined {
  if (value !== null && value.length > SMALL_VALUE_MAX) return undefined
  if (!fits48(wall) || !fits48(expiresAt) || !Number.isInteger(logical) || logical < 0 || logical >= MAX_32) return undefined
  const node = nodes.indexOf(nodeId)
  if (node < 0) return undefined
  scratch[0] = (value === null ? TOMBSTONE : 0) | (expiresAt !== 0 ? EXPIRES : 0) | (node >>> 8)
  scratch[1] = node & 0xff
  write48(wall, 2)
  scratch.writeUInt32BE(logical, 8)
  let at = HEADER
  if (expiresAt !== 0) {
    write48(expiresAt, HEADER)
    at = HEADER_WITH_EXPIRY
  }
  if (value !== null) at += copyBytes(value, scratch, at)
  return scratch.toString('latin1', 0, at)
}

/** A fresh Entry with the packed one's contents; its value is a view of the packed string (V8 slices without copying). */
export function unpack (p: string, nodes: NodeTable): Omit<PlainEntry, 'counter' | 'hash'> {
  const flags = p.charCodeAt(0)
  const expires = (flags & EXPIRES) !== 0
  const at = expires ? HEADER_WITH_EXPIRY : HEADER
  return {
    value: (flags & TOMBSTONE) !== 0 ? null : p.slice(at),
    expiresAt: expires ? read48(p, HEADER) : 0,
    wall: packedWall(p),
    logical: packedLogical(p),
    node: packedNode(p, nodes)
  }
}

/** Whether the packed entry holds a value not past its expiry at `now`: isLive without unpacking. */
export function packedIsLive (p: string, now: number): boolean {
  const flags = p.charCodeAt(0)
  if ((flags & TOMBSTONE) !== 0) return false
  return (flags & EXPIRES) === 0 || read48(p, HEADER) > now
}

// A packed entry's parts one at a time (hash.ts's PackedField reads its version
// and value from its packed string when asked, rather than keeping them).

export function packedWall (p: string): number {
  return read48(p, 2)
}

export function packedLogical (p: string): number {
  return read32(p, 8)
}

export function packedNode (p: string, nodes: NodeTable): string {
  return nodes.idOf((p.charCodeAt(0) & 0x3f) * 256 + p.charCodeAt(1))
}

/** The value of a packed entry with no expiry and not a tombstone (a hash field's). */
export function packedValue (p: string): string {
  return p.slice(HEADER)
}
