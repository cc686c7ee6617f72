import { isWall } from './clock.js'
import { canonical } from './numbers.js'
import { compareIdentity, type Contribution, type CounterState } from './counter.js'

// The state's bytes (PROTOCOL.md §Counters, FORMAT.md §Records): MREPL op C,
// the counter field of SYNC pages, and the log's counter records.
//   u8 1 | u8 flags (1: a base) | [u32 length, base] | u16 n, n contributions | u16 m, m marks
//   contribution: u8 id length, id, f64 epoch wall, u32 epoch logical, f64 wall, u32 logical, f64 ftotal,
//                 u8 length, total in decimal (a sum of int64 deltas may outgrow 64 bits)

const FORMAT = 1
const FIXED = 8 + 4 + 8 + 4 + 8 + 1

export function encodedSize (state: CounterState): number {
  let n = 2 + (state.base === null ? 0 : 4 + state.base.length) + 4
  for (const c of state.contribs) n += 1 + c.node.length + FIXED + String(c.total).length
  for (const c of state.seen) n += 1 + c.node.length + FIXED + String(c.total).length
  return n
}

export function encodeState (state: CounterState, buf: Buffer = Buffer.allocUnsafe(encodedSize(state)), at = 0): Buffer {
  let o = at
  buf[o++] = FORMAT
  buf[o++] = state.base === null ? 0 : 1
  if (state.base !== null) {
    buf.writeUInt32LE(state.base.length, o)
    o += 4
    o += state.base.copy(buf, o)
  }
  for (const list of [state.contribs, state.seen]) {
    buf.writeUInt16LE(list.length, o)
    o += 2
    for (const c of list) {
      buf[o++] = c.node.length
      o += buf.write(c.node, o, 'latin1')
      buf.writeDoubleLE(c.epochWall, o)
      buf.writeUInt32LE(c.epochLogical, o + 8)
      buf.writeDoubleLE(c.wall, o + 12)
      buf.writeUInt32LE(c.logical, o + 20)
      buf.writeDoubleLE(c.ftotal, o + 24)
      const total = String(c.total)
      buf[o + 32] = total.length
      o += FIXED
      o += buf.write(total, o, 'latin1')
    }
  }
  return buf
}

/** The state in `b`, or a string saying what is wrong. The base is copied. */
export function decodeState (b: Buffer): CounterState | string {
  try {
    let o = 0
    if (b[o++] !== FORMAT) return 'unknown counter format'
    const flags = b[o++] as number
    let base: Buffer | null = null
    if ((flags & 1) === 1) {
      const n = b.readUInt32LE(o)
      o += 4
      if (o + n > b.length) return 'the base overruns the counter'
      base = Buffer.from(b.subarray(o, o + n))
      o += n
    }
    const lists: Contribution[][] = []
    for (let l = 0; l < 2; l++) {
      const count = b.readUInt16LE(o)
      o += 2
      const list: Contribution[] = []
      for (let i = 0; i < count; i++) {
        const idLength = b[o++] as number
        if (o + idLength + FIXED > b.length) return 'a contribution overruns the counter'
        const node = b.toString('latin1', o, o + idLength)
        o += idLength
        const totalLength = b[o + 32] as number
        const total = b.toString('latin1', o + FIXED, o + FIXED + totalLength)
        if (!/^-?\d{1,60}$/.test(total)) return 'a bad contribution total'
        const c: Contribution = {
          node,
          epochWall: b.readDoubleLE(o),
          epochLogical: b.readUInt32LE(o + 8),
          wall: b.readDoubleLE(o + 12),
          logical: b.readUInt32LE(o + 20),
          ftotal: b.readDoubleLE(o + 24),
          total: canonical(BigInt(total))
        }
        o += FIXED + totalLength
        if (!isWall(c.epochWall) || !isWall(c.wall)) return 'a bad version' // as a hash field's (hash-codec.ts)
        if (list.length > 0 && compareIdentity(list[list.length - 1] as Contribution, c) >= 0) return 'contributions out of order'
        list.push(c)
      }
      lists.push(list)
    }
    if (o !== b.length) return 'trailing bytes after the counter'
    return { base, contribs: lists[0] as Contribution[], seen: lists[1] as Contribution[] }
  } catch {
    return 'the counter is cut short'
  }
}
