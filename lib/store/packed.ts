import { SMALL_VALUE_MAX, copyBytes, type Bytes } from './bytes.js'

// DESIGN.md §Memory per key. A hash field HSET wrote, and nothing else touched
// (hash.ts's PackedField), is one latin1 string: a header of 12 bytes and the
// value's bytes, where an object with a boxed wall clock and a value string
// would cost about 30 bytes more. Its version and value are read out of the
// string when asked.
//
// Layout, one char per byte, numbers big-endian:
//   node (2: an index into a NodeTable) · wall (6) · logical (4) · value
// (A V8 string's size is rounded up to 8 bytes: with 12 header bytes a
// 100-byte value's string is 128 bytes.)

const HEADER = 12
const MAX_48 = 2 ** 48
const MAX_32 = 2 ** 32
const MAX_NODES = 1 << 14

/** Node ids as small numbers: a store sees few (its cluster's), and a cell or a packed field names one in two bytes. */
export class NodeTable {
  private readonly ids: string[] = []
  private readonly index = new Map<string, number>()
  // The last id looked up: a node's own writes, or a peer's stream, name one id many times in a row.
  private lastId = ''
  private lastIndex = -1

  /** The id's number, made on first sight; -1 once the table is full (16,384 ids: the entry or field then stays an object). */
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
const scratch = Buffer.allocUnsafe(HEADER + SMALL_VALUE_MAX)

function read32 (p: string, at: number): number {
  return ((p.charCodeAt(at) << 24) | (p.charCodeAt(at + 1) << 16) | (p.charCodeAt(at + 2) << 8) | p.charCodeAt(at + 3)) >>> 0
}

/**
 * A value with its version (`wall`, `logical`, `nodeId`) as one string, or
 * undefined when it does not fit the layout (a value over SMALL_VALUE_MAX
 * bytes, a version out of range, a full node table): the caller keeps an
 * object then.
 */
export function packParts (value: Bytes, wall: number, logical: number, nodeId: string, nodes: NodeTable): string | undefined {
  if (value.length > SMALL_VALUE_MAX) return undefined
  if (!Number.isInteger(wall) || wall < 0 || wall >= MAX_48 || !Number.isInteger(logical) || logical < 0 || logical >= MAX_32) return undefined
  const node = nodes.indexOf(nodeId)
  if (node < 0) return undefined
  scratch[0] = node >>> 8
  scratch[1] = node & 0xff
  const hi = Math.floor(wall / MAX_32)
  scratch[2] = hi >>> 8
  scratch[3] = hi & 0xff
  scratch.writeUInt32BE(wall - hi * MAX_32, 4)
  scratch.writeUInt32BE(logical, 8)
  const length = HEADER + copyBytes(value, scratch, HEADER)
  return scratch.toString('latin1', 0, length)
}

export function packedWall (p: string): number {
  return (p.charCodeAt(2) * 256 + p.charCodeAt(3)) * MAX_32 + read32(p, 4)
}

export function packedLogical (p: string): number {
  return read32(p, 8)
}

export function packedNode (p: string, nodes: NodeTable): string {
  return nodes.idOf(p.charCodeAt(0) * 256 + p.charCodeAt(1))
}

export function packedValue (p: string): string {
  return p.slice(HEADER)
}
