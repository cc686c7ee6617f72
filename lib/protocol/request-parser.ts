import { ProtocolError } from '../errors.js'
import { ChunkBuffer, EMPTY } from './chunk-buffer.js'
import { splitInlineArgs } from './inline.js'

/** Framing limits (PROTOCOL.md §Limits). All in bytes except `multibulkMax`. */
export interface ParserLimits {
  /** Longest inline command line, without its line ending. */
  inlineMax: number
  /** Largest RESP bulk string. */
  bulkMax: number
  /** Most elements in one RESP array. */
  multibulkMax: number
}

export const DEFAULT_LIMITS: ParserLimits = {
  inlineMax: 64 * 1024,
  bulkMax: 512 * 1024 * 1024,
  multibulkMax: 1024 * 1024
}

/** What a client that has not yet sent AUTH may send (PROTOCOL.md §Limits: 10 arguments, 16 KiB each). */
export const UNAUTHENTICATED_LIMITS: ParserLimits = {
  inlineMax: 16 * 1024,
  bulkMax: 16 * 1024,
  multibulkMax: 10
}

/** A header line (`*N` or `$N`) longer than this cannot be a number. */
const MAX_HEADER_LINE = 64

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36

/**
 * Incremental request parser: feed it socket chunks, pull complete commands.
 *
 * Pull-based on purpose: the connection stops pulling when its unsent replies
 * pass the soft limit, and the unparsed bytes simply wait here (PROTOCOL.md
 * §Back-pressure). A framing error is returned as a value, never thrown, and
 * the parser stays failed afterwards.
 *
 * Arguments are views into the received bytes; whoever keeps one beyond the
 * command (the store) copies it.
 */
export class RequestParser extends ChunkBuffer {
  limits: ParserLimits

  /** A RESP array being read: its arguments so far. */
  private args: Buffer[] | null = null
  private argsLeft = 0
  private failed: ProtocolError | null = null

  constructor (limits: ParserLimits = DEFAULT_LIMITS) {
    super()
    this.limits = limits
  }

  feed (chunk: Buffer): void {
    if (this.failed !== null || chunk.length === 0) return
    this.stash(chunk)
  }

  /** The next complete command, `null` when more bytes are needed, or the framing error. */
  next (): Buffer[] | ProtocolError | null {
    if (this.failed !== null) return this.failed
    if (this.buffered < this.need) return null
    // A line arriving a few bytes at a time is joined once, not once per chunk.
    if (this.awaitingLf && !this.pendingHasLf && this.buffered <= this.limits.inlineMax) return null
    this.join()
    for (;;) {
      const result = this.args === null ? this.startCommand() : this.readBulks()
      if (result instanceof ProtocolError) {
        this.failed = result
        this.release()
        return result
      }
      if (result === null) return null
      if (result.length > 0) return result
      // an empty inline line or `*0`: nothing to run, keep going
    }
  }

  /** Drop everything buffered (the connection is closing). */
  release (): void {
    this.clear()
  }

  private wait (bytesFromPos: number): null {
    this.needMore(bytesFromPos)
    return null
  }

  private startCommand (): Buffer[] | ProtocolError | null {
    this.need = 1
    if (this.pos >= this.buf.length) return this.wait(1)
    if (this.buf[this.pos] !== STAR) return this.readInline()
    const start = this.pos
    const end = this.readHeaderLine('multibulk count')
    if (end === null || end instanceof ProtocolError) return end
    const count = parseInteger(this.buf, start + 1, end)
    if (count === null || count > this.limits.multibulkMax) return new ProtocolError('invalid multibulk length')
    if (count <= 0) return [] // `*0` and `*-1` are ignored, as Redis does
    this.args = []
    this.argsLeft = count
    return this.readBulks()
  }

  private readBulks (): Buffer[] | ProtocolError | null {
    const args = this.args as Buffer[]
    const buf = this.buf
    while (this.argsLeft > 0) {
      const start = this.pos
      if (start >= buf.length) return this.wait(1)
      if (buf[start] !== DOLLAR) {
        return new ProtocolError(`expected '$', got '${String.fromCharCode(buf[start] as number)}'`)
      }
      const end = this.readHeaderLine('bulk count')
      if (end === null || end instanceof ProtocolError) return end
      const length = parseInteger(buf, start + 1, end)
      if (length === null || length < 0 || length > this.limits.bulkMax) {
        return new ProtocolError('invalid bulk length')
      }
      const dataStart = this.pos
      if (buf.length - dataStart < length + 2) {
        this.pos = start // re-read the `$N` line once the data is all here
        return this.wait(dataStart - start + length + 2)
      }
      if (buf[dataStart + length] !== CR || buf[dataStart + length + 1] !== LF) {
        return new ProtocolError('expected CRLF after bulk data')
      }
      args.push(buf.subarray(dataStart, dataStart + length))
      this.pos = dataStart + length + 2
      this.argsLeft--
    }
    this.args = null
    this.need = 1
    return args
  }

  /**
   * Reads `*N\r\n` or `$N\r\n` at `pos` and moves past the line; returns where
   * the digits end (they start after the type byte). A number, not a span
   * object: this runs for every argument of every command.
   */
  private readHeaderLine (what: string): number | ProtocolError | null {
    const buf = this.buf
    const start = this.pos
    // A loop, not buf.indexOf: a header line is a few bytes, and indexOf's call into C++ costs more than the scan.
    const last = Math.min(buf.length, start + MAX_HEADER_LINE + 1)
    let lf = start
    while (lf < last && buf[lf] !== LF) lf++
    if (lf === last) {
      if (buf.length - start > MAX_HEADER_LINE) return new ProtocolError(`too big ${what} string`)
      return this.wait(buf.length - start + 1)
    }
    if (lf === start || buf[lf - 1] !== CR) return new ProtocolError(`expected CRLF after ${what}`)
    this.pos = lf + 1
    return lf - 1
  }

  private readInline (): Buffer[] | ProtocolError | null {
    const buf = this.buf
    const start = this.pos
    const lf = buf.indexOf(LF, Math.max(start, this.scanFrom))
    this.awaitingLf = lf === -1
    if (lf === -1) {
      // A CR at the end may be the first half of the line's CRLF, which does not count.
      const pendingCr = buf[buf.length - 1] === CR ? 1 : 0
      if (buf.length - start - pendingCr > this.limits.inlineMax) return new ProtocolError('too big inline request')
      this.scanFrom = buf.length
      return this.wait(buf.length - start + 1)
    }
    const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf
    if (end - start > this.limits.inlineMax) return new ProtocolError('too big inline request')
    this.pos = lf + 1
    this.scanFrom = this.pos
    const args = splitInlineArgs(buf, start, end)
    if (args === null) return new ProtocolError('unbalanced quotes in request')
    if (args.length > this.limits.multibulkMax) return new ProtocolError('invalid multibulk length')
    return args
  }
}

/** A base-10 integer in buf[start, end), or null when it is not one (Redis's string2ll rules). */
export function parseInteger (buf: Buffer, start: number, end: number): number | null {
  let i = start
  let negative = false
  if (i < end && buf[i] === 45) { negative = true; i++ }
  if (i >= end || end - i > 15) return null
  let n = 0
  for (; i < end; i++) {
    const d = (buf[i] as number) - 48
    if (d < 0 || d > 9) return null
    n = n * 10 + d
  }
  return negative ? -n : n
}
