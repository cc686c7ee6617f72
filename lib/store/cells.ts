import { SMALL_VALUE_MAX, copyBytes } from './bytes.js'
import { onlyContribution, soleContribution, type Contribution } from './counter.js'
import type { Entry } from './entry.js'
import { sharedInteger } from './numbers.js'
import type { NodeTable } from './packed.js'

// DESIGN.md §Memory per key. Most keys hold a small plain value (no counter, no
// hash fields) or are tombstones. The store keeps each such key in a cell: a
// fixed-size record in a large Buffer, outside V8's heap, holding the key's
// bytes, its version and its value. The key table (key-table.ts) finds a cell
// by the key's hash and holds its number in a slot of an Int32Array: such a
// key has no object and no string on V8's heap, so it costs the collector
// nothing, and a write over it changes its cell in place, with the one lookup
// that found it.
//
// A cell is a header, the key's bytes, then the value's:
//   wall (float64) · expiresAt (float64, 0: none) · logical (uint32) ·
//   node (uint16, an index into the store's NodeTable) · value length (uint8,
//   TOMBSTONE for none, COUNTER for a counter) · key length (uint8) · key bytes ·
//   value bytes
// in the machine's byte order (the bytes never leave the process).
//
// A counter that was only ever incremented, at one node (PROTOCOL.md
// §Counters: no base, one contribution, no marks; what INCR on a new key
// makes, and most counters stay) has a cell too: instead of the value's
// bytes, its contribution's numbers (the value is their total in decimal),
// from the first multiple of 8 bytes after the key, so that they are read and
// written as the header is, through the chunk's typed views:
//   epoch wall · wall · total (float64 each) · epoch logical · logical
//   (uint32 each) · its node (uint16)
// As an object it was an entry, a state, a list and a contribution beside the
// key's string: seven cache misses an INCR, which took a quarter of its time.
//
// Cells come
// in 32 classes by the room they have for key and value: 0, 8, 16, ... 248
// bytes, so they waste less than 8 bytes of room; a class's cells are in
// chunks of CHUNK cells, allocated as needed, and a freed cell is reused by the
// class's next key. A cell's number is its index in its class times 32, plus
// the class.

const HEADER = 24
const WALL = 0 // in float64s
const EXPIRES = 1 // in float64s
const LOGICAL = 4 // in uint32s
const NODE = 10 // in uint16s
const VALUE_LENGTH = 22 // in bytes
const KEY_LENGTH = 23 // in bytes
/** The value length of a tombstone (a value has at most SMALL_VALUE_MAX bytes). */
const TOMBSTONE = 255
/** The value length of a counter's cell. */
const COUNTER = 254
/** A counter cell's contribution: where each number is from its start (in float64s, uint32s, uint16s), and its bytes. */
const C_EPOCH_WALL = 0 // in float64s
const C_WALL = 1 // in float64s
const C_TOTAL = 2 // in float64s
const C_EPOCH_LOGICAL = 6 // in uint32s
const C_LOGICAL = 7 // in uint32s
const C_NODE = 16 // in uint16s
const CONTRIBUTION = 34

const CLASS_BITS = 5
const CLASS_MASK = (1 << CLASS_BITS) - 1
/** Room for key and value together, at most: the largest of the 32 classes. */
const ROOM_MAX = ((1 << CLASS_BITS) - 1) * 8
/** Cells per chunk: a chunk of the largest class is 272 KiB. */
const CHUNK_BITS = 10
const CHUNK = 1 << CHUNK_BITS
/** Cells per class at most, so that a cell's number stays a small integer (below 2^30). */
const MAX_CELLS = 1 << (30 - CLASS_BITS)
const MAX_32 = 2 ** 32

/**
 * The value of an entry read without it (Cells.read): a value is there, its
 * bytes were not copied out. Only for a caller that replaces the value.
 */
export const UNREAD = ''

/** One chunk of a class: its bytes, and views for the header's numbers. */
interface Chunk {
  readonly bytes: Buffer
  readonly f64: Float64Array
  readonly u32: Uint32Array
  readonly u16: Uint16Array
}

/** The cells of one size: `room` bytes for a key and value each. */
class SizeClass {
  readonly stride: number
  readonly chunks: Chunk[] = []
  private readonly free: number[] = []
  private used = 0

  constructor (readonly room: number) {
    this.stride = HEADER + room
  }

  /** A cell's index, reused or new; -1 when the class is full. */
  alloc (): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    if (this.used >= MAX_CELLS) return -1
    const index = this.used++
    if ((index >>> CHUNK_BITS) >= this.chunks.length) {
      const buffer = new ArrayBuffer(CHUNK * this.stride)
      this.chunks.push({ bytes: Buffer.from(buffer), f64: new Float64Array(buffer), u32: new Uint32Array(buffer), u16: new Uint16Array(buffer) })
    }
    return index
  }

  release (index: number): void {
    this.free.push(index)
  }

  /** The chunk holding cell `index`. */
  chunkOf (index: number): Chunk {
    return this.chunks[index >>> CHUNK_BITS] as Chunk
  }

  /** Cell `index`'s first byte in its chunk. */
  offsetOf (index: number): number {
    return (index & (CHUNK - 1)) * this.stride
  }

  /** Cells in use. */
  get live (): number {
    return this.used - this.free.length
  }
}

/** Whether the entry is what a cell holds (if its version fits too): no counter, no hash, a tombstone or a value of at most SMALL_VALUE_MAX bytes. */
export function isSmallPlain (e: Entry): boolean {
  return e.counter === undefined && e.hash === undefined && (e.value === null || e.value.length <= SMALL_VALUE_MAX)
}

function isUint32 (n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < MAX_32
}

/**
 * The contribution of a counter a cell holds (see above), or undefined: no
 * base, one contribution of an integer total a double holds exactly, no marks.
 */
function cellContribution (e: Entry): Contribution | undefined {
  const c = e.counter === undefined || e.hash !== undefined || e.value === null ? undefined : soleContribution(e.counter)
  return c !== undefined && fitsCell(c) ? c : undefined
}

/** Whether a cell holds the contribution's numbers exactly: an integer total a double holds, no float part, 32-bit logical clocks. */
function fitsCell (c: Contribution): boolean {
  return typeof c.total === 'number' && Number.isSafeInteger(c.total) && c.ftotal === 0 && isUint32(c.epochLogical) && isUint32(c.logical)
}

/** Where a counter cell's contribution starts after its key of `keyLength` bytes: 8-aligned, as the cell is. */
function contributionAt (keyLength: number): number {
  return (keyLength + 7) & ~7
}

/** The class whose room fits `length` bytes of key and value. */
function classOf (length: number): number {
  return (length + 7) >>> 3
}

/** A store's cells (see above). Numbers from store() are valid until released. */
export class Cells {
  private readonly classes: SizeClass[] = []

  constructor (private readonly nodes: NodeTable) {
    for (let c = 0; c <= classOf(ROOM_MAX); c++) this.classes.push(new SizeClass(c * 8))
  }

  /**
   * Puts the key's entry in a cell and returns its number: `old` (the key's
   * own cell, or -1) when key and value fit its class, written in place (the
   * key's bytes are there already), else a new cell, and `old` is released. -1
   * when the entry does not fit a cell (neither isSmallPlain nor a counter
   * of one contribution, a logical clock at or above 2^32, a key and value
   * over ROOM_MAX bytes or a key with a character past latin1, a full node
   * table, or its class's 2^25 cells all in use): the store keeps it as an
   * object then, and `old` is released all the same.
   */
  store (key: string, e: Entry, old: number): number {
    const value = e.value
    const counted = e.counter === undefined ? undefined : cellContribution(e)
    const length = counted !== undefined ? contributionAt(key.length) + CONTRIBUTION : key.length + (value === null ? 0 : value.length)
    let node = (counted !== undefined || isSmallPlain(e)) && length <= ROOM_MAX && isUint32(e.logical) ? this.nodes.indexOf(e.node) : -1
    const writer = counted === undefined ? 0 : this.nodes.indexOf(counted.node)
    if (writer < 0) node = -1
    const cls = classOf(length)
    if (old >= 0 && (node < 0 || (old & CLASS_MASK) !== cls)) {
      this.release(old)
      old = -1
    }
    if (node < 0) return -1
    const sizeClass = this.classes[cls] as SizeClass
    const index = old >= 0 ? old >>> CLASS_BITS : sizeClass.alloc()
    if (index < 0) return -1
    const chunk = sizeClass.chunkOf(index)
    const at = sizeClass.offsetOf(index)
    const bytes = chunk.bytes
    if (old < 0 && !writeKey(key, bytes, at + HEADER)) {
      sizeClass.release(index)
      return -1
    }
    chunk.f64[(at >>> 3) + WALL] = e.wall
    chunk.f64[(at >>> 3) + EXPIRES] = e.expiresAt
    chunk.u32[(at >>> 2) + LOGICAL] = e.logical
    chunk.u16[(at >>> 1) + NODE] = node
    bytes[at + KEY_LENGTH] = key.length
    if (counted !== undefined) {
      const o = at + HEADER + contributionAt(key.length)
      chunk.f64[(o >>> 3) + C_EPOCH_WALL] = counted.epochWall
      chunk.f64[(o >>> 3) + C_WALL] = counted.wall
      chunk.f64[(o >>> 3) + C_TOTAL] = counted.total as number // a number: fitsCell
      chunk.u32[(o >>> 2) + C_EPOCH_LOGICAL] = counted.epochLogical
      chunk.u32[(o >>> 2) + C_LOGICAL] = counted.logical
      chunk.u16[(o >>> 1) + C_NODE] = writer
      bytes[at + VALUE_LENGTH] = COUNTER
    } else {
      bytes[at + VALUE_LENGTH] = value === null ? TOMBSTONE : copyBytes(value, bytes, at + HEADER + key.length)
    }
    return (index << CLASS_BITS) | cls
  }

  /**
   * A fresh entry with the cell's contents; its value is a latin1 string of its
   * own, or UNREAD when `withValue` is false (a tombstone's is null either way;
   * a counter's is its total, and its state is fresh too).
   */
  read (id: number, withValue = true): Entry {
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    const chunk = sizeClass.chunkOf(index)
    const at = sizeClass.offsetOf(index)
    const bytes = chunk.bytes
    const length = bytes[at + VALUE_LENGTH] as number
    if (length === COUNTER) return this.readCounter(chunk, at, at + HEADER + contributionAt(bytes[at + KEY_LENGTH] as number))
    const start = at + HEADER + (bytes[at + KEY_LENGTH] as number)
    return {
      value: length === TOMBSTONE ? null : withValue ? bytes.toString('latin1', start, start + length) : UNREAD,
      expiresAt: chunk.f64[(at >>> 3) + EXPIRES] as number,
      wall: chunk.f64[(at >>> 3) + WALL] as number,
      logical: chunk.u32[(at >>> 2) + LOGICAL] as number,
      node: this.nodes.idOf(chunk.u16[(at >>> 1) + NODE] as number)
    }
  }

  /** A counter's entry (read()): the literals in the order the store makes them in, for V8's one shape. */
  private readCounter (chunk: Chunk, at: number, o: number): Entry {
    const total = chunk.f64[(o >>> 3) + C_TOTAL] as number
    const c: Contribution = {
      node: this.nodes.idOf(chunk.u16[(o >>> 1) + C_NODE] as number),
      epochWall: chunk.f64[(o >>> 3) + C_EPOCH_WALL] as number,
      epochLogical: chunk.u32[(o >>> 2) + C_EPOCH_LOGICAL] as number,
      wall: chunk.f64[(o >>> 3) + C_WALL] as number,
      logical: chunk.u32[(o >>> 2) + C_LOGICAL] as number,
      total,
      ftotal: 0
    }
    return {
      value: sharedInteger(total) ?? String(total), // what valueOf() makes of this state
      expiresAt: chunk.f64[(at >>> 3) + EXPIRES] as number,
      wall: chunk.f64[(at >>> 3) + WALL] as number,
      logical: chunk.u32[(at >>> 2) + LOGICAL] as number,
      node: this.nodes.idOf(chunk.u16[(at >>> 1) + NODE] as number),
      counter: onlyContribution(c)
    }
  }

  /**
   * A counter cell's contribution after an increment in place (Store.increment):
   * its version and total written over the old, nothing else read or
   * checked again. False, and nothing written, when the cell holds no counter
   * or the contribution no longer fits one (store() then moves it).
   */
  updateContribution (id: number, c: Contribution): boolean {
    if (!fitsCell(c)) return false
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    const chunk = sizeClass.chunkOf(index)
    const at = sizeClass.offsetOf(index)
    if (chunk.bytes[at + VALUE_LENGTH] !== COUNTER) return false
    const o = at + HEADER + contributionAt(chunk.bytes[at + KEY_LENGTH] as number)
    chunk.f64[(o >>> 3) + C_WALL] = c.wall
    chunk.f64[(o >>> 3) + C_TOTAL] = c.total as number // a number: fitsCell
    chunk.u32[(o >>> 2) + C_LOGICAL] = c.logical
    return true
  }

  /** The key the cell holds (a latin1 string of its own). */
  keyOf (id: number): string {
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    const bytes = sizeClass.chunkOf(index).bytes
    const at = sizeClass.offsetOf(index)
    return bytes.toString('latin1', at + HEADER, at + HEADER + (bytes[at + KEY_LENGTH] as number))
  }

  /** Whether the cell holds `key`: compared in place, without a string made of its bytes. */
  holds (id: number, key: string): boolean {
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    const bytes = sizeClass.chunkOf(index).bytes
    const at = sizeClass.offsetOf(index)
    if (bytes[at + KEY_LENGTH] !== key.length) return false
    const start = at + HEADER
    for (let i = 0; i < key.length; i++) if (bytes[start + i] !== key.charCodeAt(i)) return false
    return true
  }

  /** Whether the cell holds a value not past its expiry at `now` (isLive without reading the entry out). */
  isLive (id: number, now: number): boolean {
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    const chunk = sizeClass.chunkOf(index)
    const at = sizeClass.offsetOf(index)
    if (chunk.bytes[at + VALUE_LENGTH] === TOMBSTONE) return false
    const expiresAt = chunk.f64[(at >>> 3) + EXPIRES] as number
    return expiresAt === 0 || expiresAt > now
  }

  /** Reads the cell's header (KeyTable.warm): the lookup that compares the key will find it in the cache. */
  warm (id: number): number {
    const sizeClass = this.classOfCell(id)
    const index = id >>> CLASS_BITS
    return sizeClass.chunkOf(index).bytes[sizeClass.offsetOf(index) + KEY_LENGTH] as number
  }

  /** The cell is free for another key. */
  release (id: number): void {
    this.classOfCell(id).release(id >>> CLASS_BITS)
  }

  /**
   * The class of cell `id`. Each method finds its cell's chunk and offset from
   * it in place, in the same four lines, not through helpers: a chunk helper
   * and an offset helper made a warm INCR 3 to 6% slower in-process.
   */
  private classOfCell (id: number): SizeClass {
    return this.classes[id & CLASS_MASK] as SizeClass
  }

  /** Cells in use (tests: every key removed gives its cell back). */
  get live (): number {
    let n = 0
    for (const c of this.classes) n += c.live
    return n
  }
}

/** Writes a latin1 key's bytes at `at`; false (and nothing meaningful written) for a character past 255. */
function writeKey (key: string, out: Buffer, at: number): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c > 255) return false
    out[at + i] = c
  }
  return true
}
