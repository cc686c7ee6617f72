import { ChunkBuffer } from './chunk-buffer.js'
import { parseInteger } from './request-parser.js'

/** An error reply (`-ERR ...`) as a value. */
export class RespError {
  constructor (readonly message: string) {}
  toString (): string { return this.message }
}

/** A decoded RESP2 reply: simple strings are strings, bulk strings Buffers. */
/** A reply: an integer past JavaScript's safe range (INCRBY near 2^63) is a bigint. */
export type RespValue = string | number | bigint | Buffer | null | RespError | RespValue[]

const CR = 13
const LF = 10

/** An array whose elements are still arriving. */
interface Frame {
  readonly items: RespValue[]
  left: number
}

/** What `element` returns when it opened an array rather than finishing a value. */
const OPENED: unique symbol = Symbol('opened')

/**
 * Incremental RESP2 reply parser for the client side (CLI, peer links, tests).
 * Throws on malformed input: a server that sends garbage is not one to talk to.
 *
 * A peer's SYNC or ENTRIES page is one array of thousands of bulks arriving in
 * many chunks, so nothing is redone per chunk: chunks wait unjoined until the
 * bytes the current element needs are all here (or, for a line, until one
 * holds its LF), and the arrays being filled are kept across calls. Each byte
 * is copied and scanned a bounded number of times, whatever the chunking.
 *
 * Bulk strings are views into the received bytes. Those are never written to
 * (a join makes a new buffer), so a value keeps its bytes whatever follows.
 */
export class ReplyParser extends ChunkBuffer {
  /** The length of the bulk whose data starts at `pos`, once its `$N` line is read; -1 otherwise. */
  private bulkLength = -1
  /** Arrays being filled, outermost first. */
  private readonly stack: Frame[] = []

  feed (chunk: Buffer): void {
    if (chunk.length !== 0) this.stash(chunk)
  }

  /** The next complete reply, or `undefined` when more bytes are needed. */
  next (): RespValue | undefined {
    if (this.buffered < this.need) return undefined
    if (this.awaitingLf && !this.pendingHasLf) return undefined
    this.join()
    for (;;) {
      let value = this.element()
      if (value === undefined) return undefined
      if (value === OPENED) continue
      // A finished value fills its array's next slot; a full array is itself a finished value.
      for (;;) {
        const top = this.stack[this.stack.length - 1]
        if (top === undefined) {
          this.need = 1
          return value
        }
        top.items.push(value)
        if (--top.left > 0) break
        this.stack.pop()
        value = top.items
      }
    }
  }

  private wait (bytesFromPos: number): undefined {
    this.needMore(bytesFromPos)
    return undefined
  }

  /**
   * Reads one element at `pos`: a finished value, OPENED for a non-empty array
   * (pushed on the stack), or undefined when more bytes are needed. `pos` moves
   * only past what was read whole, so a throw is thrown again by the next call.
   */
  private element (): RespValue | typeof OPENED | undefined {
    if (this.bulkLength >= 0) return this.bulkData()
    const buf = this.buf
    const start = this.pos
    const lf = buf.indexOf(LF, Math.max(start, this.scanFrom))
    if (lf === -1) {
      this.awaitingLf = true
      this.scanFrom = buf.length
      return this.wait(buf.length - start + 1)
    }
    this.awaitingLf = false
    this.scanFrom = 0
    if (lf === start || buf[lf - 1] !== CR) throw new Error('malformed reply: expected CRLF')
    const type = buf[start]
    const lineEnd = lf - 1
    const next = lf + 1
    switch (type) {
      case 43: // +
        this.pos = next
        return buf.toString('latin1', start + 1, lineEnd)
      case 45: // -
        this.pos = next
        return new RespError(buf.toString('utf8', start + 1, lineEnd))
      case 58: { // :
        const n = parseInteger(buf, start + 1, lineEnd) ?? this.bigInt(start + 1, lineEnd)
        this.pos = next
        return n
      }
      case 36: { // $
        const length = this.int(start + 1, lineEnd)
        this.pos = next
        if (length < 0) return null
        this.bulkLength = length
        return this.bulkData()
      }
      case 42: { // *
        const count = this.int(start + 1, lineEnd)
        this.pos = next
        if (count < 0) return null
        if (count === 0) return []
        this.stack.push({ items: [], left: count })
        return OPENED
      }
      default:
        throw new Error(`malformed reply: unexpected type byte 0x${(type ?? 0).toString(16)}`)
    }
  }

  /** The data of the bulk whose `$N` line was read, with its CRLF. */
  private bulkData (): Buffer | undefined {
    const buf = this.buf
    const start = this.pos
    const end = start + this.bulkLength
    if (buf.length < end + 2) return this.wait(end + 2 - start)
    if (buf[end] !== CR || buf[end + 1] !== LF) throw new Error('malformed reply: expected CRLF after bulk data')
    this.bulkLength = -1
    this.pos = end + 2
    return buf.subarray(start, end)
  }

  /** A 64-bit integer reply too large for a number. */
  private bigInt (start: number, end: number): bigint {
    const text = this.buf.toString('latin1', start, end)
    if (!/^-?\d{1,20}$/.test(text)) throw new Error('malformed reply: bad integer')
    return BigInt(text)
  }

  private int (start: number, end: number): number {
    const n = parseInteger(this.buf, start, end)
    if (n === null) throw new Error('malformed reply: bad integer')
    return n
  }
}
