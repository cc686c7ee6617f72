import { splitInlineArgs } from '../protocol/inline.js'

// keystone-cli --pipe (README.md §Bulk loading): stdin arrives as lines (split2
// on '\n' over latin1, so a line keeps its '\r' and one char is one byte). The
// framer decides per command whether it is a RESP array (its first line starts
// with '*', the server's own rule) or an inline line, and hands on the original
// bytes of whole commands only: nothing is decoded or re-encoded, and a command
// cut short by the end of the input or by a framing error is never half sent
// (unless it is bigger than STREAM_AT, which then streams).

/** A command buffered past this many bytes goes out in parts, so memory stays bounded. */
export const STREAM_AT = 1024 * 1024
/** Bulk length limit, as the server's default (PROTOCOL.md §Limits). */
const MAX_BULK = 512 * 1024 * 1024

export interface InputError {
  /** 1-based line of the input where the problem is. */
  line: number
  message: string
  /** True when framing cannot go on: nothing after it is sent. */
  fatal: boolean
}

/** A non-negative decimal count in text[from, to), or null. */
function count (text: string, from: number, to: number, negativeOk: boolean): number | null {
  let i = from
  let sign = 1
  if (negativeOk && text.charCodeAt(i) === 45) { sign = -1; i++ }
  if (i >= to || to - i > 15) return null
  let n = 0
  for (; i < to; i++) {
    const c = text.charCodeAt(i) - 48
    if (c < 0 || c > 9) return null
    n = n * 10 + c
  }
  return sign * n
}

/** Where a header line's text ends: before its '\r', if any. */
const textEnd = (line: string): number => line.charCodeAt(line.length - 1) === 13 ? line.length - 1 : line.length

/** Spaces, tabs and CRs only: the server ignores such a line and sends no reply. */
function blank (line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c !== 32 && c !== 9 && c !== 13) return false
  }
  return true
}

export class PipeFramer {
  /** Whole commands framed so far (each gets one reply). */
  commands = 0
  /** Lines seen so far. */
  lines = 0
  /** Set by a fatal error: the framer takes no more lines. */
  failed = false
  /** Part of the current, unfinished command has been handed on (it was over STREAM_AT). */
  partSent = false
  /** Bytes ready to send: whole commands, or the leading part of a streamed one. */
  private out = ''
  /** The current RESP command's bytes so far (when not streaming). */
  private cmd = ''
  /** The line the current RESP command began on. */
  private cmdLine = 0
  /** Bulks still expected by the current array; 0 between commands. */
  private left = 0
  /** Length of the bulk whose data comes next; -1 when a `$` header comes next. */
  private want = -1
  /** Bytes of the current bulk's data seen so far (its lines and the '\n's between them). */
  private got = 0

  constructor (private readonly onError: (error: InputError) => void) {}

  /** Length of what `take` would return. */
  get buffered (): number {
    return this.out.length
  }

  /** True between a RESP array's header and its last bulk. */
  get inCommand (): boolean {
    return this.left > 0
  }

  /** What is ready to send (latin1 text, one char per byte); cleared. */
  take (): string {
    const out = this.out
    this.out = ''
    return out
  }

  /** One line of input, without its '\n' (a '\r' before it stays). */
  line (line: string): void {
    if (this.failed) return
    this.lines++
    if (this.left > 0) return this.bulkLine(line)
    if (line.charCodeAt(0) === 42) return this.header(line) // '*'
    if (blank(line)) return
    // Quotes are checked here, so that one bad line does not make the server drop the connection.
    if ((line.includes('"') || line.includes("'")) && splitInlineArgs(Buffer.from(line, 'latin1'), 0, line.length) === null) {
      this.onError({ line: this.lines, message: 'unbalanced quotes, not sent', fatal: false })
      return
    }
    this.out += line + '\n'
    this.commands++
  }

  /** The input is over. */
  end (): void {
    if (this.failed || this.left === 0) return
    this.fail(this.cmdLine, this.partSent ? 'the input ended inside a command (part of it was sent)' : 'the input ended inside a command, not sent')
  }

  private header (line: string): void {
    const n = count(line, 1, textEnd(line), true)
    if (n === null) return this.fail(this.lines, 'invalid multibulk length')
    if (n <= 0) return // `*0` and `*-1` are ignored by the server, with no reply
    this.left = n
    this.want = -1
    this.cmd = line + '\n'
    this.cmdLine = this.lines
  }

  private bulkLine (line: string): void {
    if (this.want < 0) {
      const n = line.charCodeAt(0) === 36 ? count(line, 1, textEnd(line), false) : null // '$'
      if (n === null || n > MAX_BULK) return this.fail(this.lines, line.charCodeAt(0) === 36 ? 'invalid bulk length' : `expected '$', got ${JSON.stringify(line.slice(0, 20))}`)
      this.want = n
      this.got = 0
      this.append(line)
      return
    }
    // The data, then CR: a line that ends before that held a '\n' of the data itself.
    const end = this.got + line.length
    if (end < this.want + 1) {
      this.got = end + 1
      this.append(line)
      return
    }
    if (end !== this.want + 1 || line.charCodeAt(line.length - 1) !== 13) return this.fail(this.lines, 'missing CRLF after bulk data')
    this.append(line)
    this.want = -1
    if (--this.left > 0) return
    this.out += this.cmd
    this.cmd = ''
    this.partSent = false
    this.commands++
  }

  /** A line of the current command, with its '\n'. Past STREAM_AT, what there is goes out now. */
  private append (line: string): void {
    this.cmd += line + '\n'
    if (this.cmd.length <= STREAM_AT) return
    this.out += this.cmd
    this.cmd = ''
    this.partSent = true
  }

  private fail (line: number, message: string): void {
    this.failed = true
    this.cmd = ''
    this.onError({ line, message, fatal: true })
  }
}
