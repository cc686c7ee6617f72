import { decodeState, encodedSize as counterSize, encodeState } from './counter-codec.js'
import { isWall, type Version } from './clock.js'
import type { Contribution } from './counter.js'
import { baseField, fieldOf, ownRecord, plainValue, present, type Field, type HashState } from './hash.js'

// A hash state's bytes (PROTOCOL.md §Hashes, FORMAT.md §Hash state): MREPL op H,
// the typed field of SYNC pages and ENTRIES replies, and the log's hash records.
// Either the whole state or some of its fields (a write replicates and logs only
// the fields it changed: any subset of a hash's fields is a state to merge).
//   u8 2 | u16 n, n node ids (u8 length, id) | u8 1 and the cut's version, or u8 0 | u32 count, count fields
//   field: u32 name length, name | u8 flags | u16 id index, f64 wall, u32 logical (the base's version)
//          | [flags 1: removed: u16 id index, f64 wall, u32 logical]
//          | flags 2: u32 length, counter state (FORMAT.md §Counter state) | else flags 4: u32 length, base
//   or:    u32 name length, name | u8 8: the same record as the field before it (the members one SADD added)
// Node ids go once in a table: a field costs its name, its value and 19 bytes.
// The first byte tells a hash (2) or a set (3, the same layout: PROTOCOL.md §Sets)
// from a counter state (1) wherever any may come.

export const HASH_FORMAT = 2
export const SET_FORMAT = 3

/** Whether these bytes are a hash's or a set's state (not a counter's). */
export function isHashBytes (b: Buffer): boolean {
  return b[0] === HASH_FORMAT || b[0] === SET_FORMAT
}
/** Node ids as peers give them (PROTOCOL.md §GOSSIP); the store imports nothing from the cluster. */
const NODE_ID = /^[\w.:-]{1,64}$/
const REMOVED = 1
const COUNTER = 2
const BASE = 4
/** The field's record is the one before it (the same object: the members one SADD added share one). */
const SAME = 8
const VERSION_BYTES = 2 + 8 + 4
/** The empty list of contributions or marks, shared (frozen: no state changes its lists in place). */
const NONE: readonly Contribution[] = Object.freeze([])

/** The fields to encode: every field of the state, or the names given (those missing are skipped). */
function * selected (hash: HashState, names: Iterable<string> | null): Iterable<[string, Field]> {
  if (names === null) {
    yield * hash.fields
    return
  }
  for (const name of names) {
    const f = hash.fields.get(name)
    if (f !== undefined) yield [name, f]
  }
}

/** The node ids the fields use, each once, and the table's size in bytes. */
function idTable (hash: HashState, names: Iterable<string> | null): { ids: Map<string, number>, bytes: number } {
  const ids = new Map<string, number>()
  let bytes = 0
  const add = (v: Version): void => {
    if (ids.has(v.node)) return
    ids.set(v.node, ids.size)
    bytes += 1 + v.node.length
  }
  if (hash.cut !== null) add(hash.cut)
  for (const [, f] of selected(hash, names)) {
    add(f)
    if (f.removed !== null) add(f.removed)
  }
  return { ids, bytes }
}

function fieldSize (name: string, f: Field): number {
  const plain = plainValue(f)
  if (plain !== undefined) return 4 + name.length + 1 + VERSION_BYTES + 4 + plain.length
  let n = 4 + name.length + 1 + VERSION_BYTES
  if (f.removed !== null) n += VERSION_BYTES
  if (f.state.contribs.length > 0 || f.state.seen.length > 0) n += 4 + counterSize(f.state)
  else if (f.state.base !== null) n += 4 + f.state.base.length
  return n
}

export function encodedHashSize (hash: HashState, names: Iterable<string> | null = null): number {
  let n = 1 + 2 + idTable(hash, names).bytes + 1 + (hash.cut === null ? 0 : VERSION_BYTES) + 4
  let previous: Field | null = null
  for (const [name, f] of selected(hash, names)) {
    n += f === previous ? 4 + name.length + 1 : fieldSize(name, f)
    previous = f
  }
  return n
}

/** Writes the state (or the named fields) at `at`; returns the offset after it. */
export function encodeHash (hash: HashState, names: Iterable<string> | null, buf: Buffer, at: number): number {
  const { ids } = idTable(hash, names)
  let o = at
  buf[o++] = hash.set ? SET_FORMAT : HASH_FORMAT
  buf.writeUInt16LE(ids.size, o)
  o += 2
  for (const id of ids.keys()) {
    buf[o++] = id.length
    o += buf.write(id, o, 'latin1')
  }
  const version = (v: Version): void => {
    buf.writeUInt16LE(ids.get(v.node) as number, o)
    buf.writeDoubleLE(v.wall, o + 2)
    buf.writeUInt32LE(v.logical, o + 10)
    o += VERSION_BYTES
  }
  buf[o++] = hash.cut === null ? 0 : 1
  if (hash.cut !== null) version(hash.cut)
  const countAt = o
  o += 4
  let count = 0
  let previous: Field | null = null
  for (const [name, f] of selected(hash, names)) {
    count++
    buf.writeUInt32LE(name.length, o)
    o += 4
    o += buf.write(name, o, 'latin1')
    if (f === previous) {
      buf[o++] = SAME
      continue
    }
    previous = f
    const plain = plainValue(f)
    if (plain !== undefined) { // a base and nothing else: its bytes from the string
      buf[o++] = BASE
      version(f)
      buf.writeUInt32LE(plain.length, o)
      o += 4
      o += buf.write(plain, o, 'latin1')
      continue
    }
    const counter = f.state.contribs.length > 0 || f.state.seen.length > 0
    buf[o++] = (f.removed !== null ? REMOVED : 0) | (counter ? COUNTER : 0) | (!counter && f.state.base !== null ? BASE : 0)
    version(f)
    if (f.removed !== null) version(f.removed)
    if (counter) {
      const size = counterSize(f.state)
      buf.writeUInt32LE(size, o)
      encodeState(f.state, buf, o + 4)
      o += 4 + size
    } else if (f.state.base !== null) {
      buf.writeUInt32LE(f.state.base.length, o)
      o += 4
      o += f.state.base.copy(buf, o)
    }
  }
  buf.writeUInt32LE(count, countAt)
  return o
}

/** The bytes of the state, or of the named fields. */
export function hashBytes (hash: HashState, names: Iterable<string> | null = null): Buffer {
  const buf = Buffer.allocUnsafe(encodedHashSize(hash, names))
  encodeHash(hash, names, buf, 0)
  return buf
}

/** The state in `b`, or a string saying what is wrong. Values are copied. */
export function decodeHash (b: Buffer): HashState | string {
  try {
    let o = 0
    const format = b[o++]
    if (format !== HASH_FORMAT && format !== SET_FORMAT) return 'unknown hash format'
    const idCount = b.readUInt16LE(o)
    o += 2
    const ids: string[] = []
    for (let i = 0; i < idCount; i++) {
      const n = b[o++] as number
      if (o + n > b.length) return 'a node id overruns the hash'
      const id = b.toString('latin1', o, o + n)
      if (!NODE_ID.test(id)) return 'a bad node id'
      ids.push(id)
      o += n
    }
    const version = (): Version | string => {
      const node = ids[b.readUInt16LE(o)]
      if (node === undefined) return 'a bad node id index'
      const v = { node, wall: b.readDoubleLE(o + 2), logical: b.readUInt32LE(o + 10) }
      o += VERSION_BYTES
      // A wall that is no whole ms (NaN above all) would break the versions' total
      // order. Any 32-bit logical will do: a local write after one at the maximum
      // takes the next millisecond (clock.ts successor).
      if (!isWall(v.wall)) return 'a bad version'
      return v
    }
    const hasCut = b[o++]
    if (hasCut !== 0 && hasCut !== 1) return 'a bad cut flag'
    const cut = hasCut === 1 ? version() : null
    if (typeof cut === 'string') return cut
    const count = b.readUInt32LE(o)
    o += 4
    const fields = new Map<string, Field>()
    let live = 0
    // Fields sent as the same record share one object if it is a compact one (a
    // set's members added by one SADD); a general record is changed in place by
    // increments (hash.ts ownFieldContribution), so each field gets its own copy.
    let previous: Field | null = null
    for (let i = 0; i < count; i++) {
      const nameLength = b.readUInt32LE(o)
      o += 4
      if (o + nameLength > b.length) return 'a field name overruns the hash'
      const name = b.toString('latin1', o, o + nameLength)
      o += nameLength
      const flags = b[o++] as number
      if (flags === SAME) {
        if (previous === null) return 'the first field has no record before it'
        if (fields.has(name)) return 'a field given twice'
        fields.set(name, ownRecord(previous))
        if (present(previous)) live++
        continue
      }
      if ((flags & ~(REMOVED | COUNTER | BASE)) !== 0 || (flags & (COUNTER | BASE)) === (COUNTER | BASE)) return 'bad field flags'
      const v = version()
      if (typeof v === 'string') return v
      let removed: Version | null = null
      if ((flags & REMOVED) !== 0) {
        const r = version()
        if (typeof r === 'string') return r
        removed = r
      }
      let state: Field['state'] = { base: null, contribs: NONE, seen: NONE }
      let plain: string | null = null
      if ((flags & (COUNTER | BASE)) !== 0) {
        const n = b.readUInt32LE(o)
        o += 4
        if (o + n > b.length) return 'a field value overruns the hash'
        if ((flags & COUNTER) !== 0) {
          const s = decodeState(b.subarray(o, o + n))
          if (typeof s === 'string') return s
          state = s
        } else if (removed === null) { // a base and nothing else
          plain = b.toString('latin1', o, o + n)
        } else {
          state = { base: Buffer.from(b.subarray(o, o + n)), contribs: NONE, seen: NONE }
        }
        o += n
      }
      if (fields.has(name)) return 'a field given twice'
      const f: Field = plain !== null ? baseField(v, plain) : fieldOf(v, state, removed)
      previous = f
      fields.set(name, f)
      if (present(f)) live++
    }
    if (o !== b.length) return 'trailing bytes after the hash'
    return { fields, live, cut, set: format === SET_FORMAT }
  } catch {
    return 'the hash is cut short'
  }
}
