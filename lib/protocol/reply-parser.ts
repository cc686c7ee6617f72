import { parseInteger } from './request-parser.js'

/** An error reply (`-ERR ...`) as a value. */
export class RespError {
  constructor (readonly message: string) {}
  toString (): string { return this.message }
}

/** A decoded RESP2 reply: simple strings are strings, bulk strings Buffers. */
export type RespValue = string | number | Buffer | null | RespError | RespValue[]

const CR = 13
const LF = 10

/**
 * Incremental RESP2 reply parser for the client side (CLI, peer links, tests).
 * Throws on malformed input: a server that sends garbage is not one to talk to.
 */
export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0

  feed (chunk: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk
    this.pos = 0
  }

  /** The next complete reply, or `undefined` when more bytes are needed. */
  next (): RespValue | undefined {
    const r = this.read(this.pos)
    if (r === undefined) return undefined
    this.pos = r.end
    return r.value
  }

  private read (at: number): { value: RespValue, end: number } | undefined {
    const buf = this.buf
    if (at >= buf.length) return undefined
    const lf = buf.indexOf(LF, at)
    if (lf === -1) return undefined
    if (buf[lf - 1] !== CR) throw new Error('malformed reply: expected CRLF')
    const type = buf[at]
    const lineEnd = lf - 1
    const next = lf + 1
    switch (type) {
      case 43: // +
        return { value: buf.toString('latin1', at + 1, lineEnd), end: next }
      case 45: // -
        return { value: new RespError(buf.toString('utf8', at + 1, lineEnd)), end: next }
      case 58: // :
        return { value: this.int(at + 1, lineEnd), end: next }
      case 36: { // $
        const len = this.int(at + 1, lineEnd)
        if (len < 0) return { value: null, end: next }
        if (buf.length < next + len + 2) return undefined
        return { value: buf.subarray(next, next + len), end: next + len + 2 }
      }
      case 42: { // *
        const count = this.int(at + 1, lineEnd)
        if (count < 0) return { value: null, end: next }
        const items: RespValue[] = []
        let end = next
        for (let i = 0; i < count; i++) {
          const item = this.read(end)
          if (item === undefined) return undefined
          items.push(item.value)
          end = item.end
        }
        return { value: items, end }
      }
      default:
        throw new Error(`malformed reply: unexpected type byte 0x${(type ?? 0).toString(16)}`)
    }
  }

  private int (start: number, end: number): number {
    const n = parseInteger(this.buf, start, end)
    if (n === null) throw new Error('malformed reply: bad integer')
    return n
  }
}
