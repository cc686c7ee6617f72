// Splits a stream of RESP2 reply bytes into whole replies, keeping each
// reply's exact bytes (for byte-for-byte comparison) beside a decoded tree
// (for the few comparisons that normalize). Not lib/protocol/reply-parser.ts:
// that one reads integers as JS numbers of at most 15 digits and throws on
// Redis's `:9223372036854775807`; here integers stay text and `*-1` is kept.

const CR = 13
const LF = 10

/** A decoded reply. Integers and simple strings stay text; nil bulk and nil array are null. */
export type Reply =
  | { type: '+' | '-' | ':', text: string }
  | { type: '$', data: Buffer | null }
  | { type: '*', items: Reply[] | null }

/** One whole reply: its bytes as received, and what they say. */
export interface Frame { raw: Buffer, value: Reply }

/** Feed it chunks; take whole replies with next(). Throws on bytes that are not RESP2. */
export class ReplyFramer {
  private buf: Buffer = Buffer.alloc(0)

  feed (chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
  }

  next (): Frame | undefined {
    const parsed = parseAt(this.buf, 0)
    if (parsed === undefined) return undefined
    const [value, end] = parsed
    const raw = this.buf.subarray(0, end)
    this.buf = this.buf.subarray(end)
    return { raw, value }
  }
}

/** The reply starting at `start` and where it ends, or undefined if not all of it is here. */
function parseAt (buf: Buffer, start: number): [Reply, number] | undefined {
  const lf = buf.indexOf(LF, start)
  if (lf === -1) return undefined
  if (lf === start || buf[lf - 1] !== CR) throw new Error(`malformed reply at ${start}: expected CRLF`)
  const type = String.fromCharCode(buf[start] as number)
  const line = buf.toString('latin1', start + 1, lf - 1)
  const next = lf + 1
  switch (type) {
    case '+': case '-': case ':':
      return [{ type, text: line }, next]
    case '$': {
      const length = Number(line)
      if (!Number.isInteger(length)) throw new Error(`malformed bulk length ${JSON.stringify(line)}`)
      if (length < 0) return [{ type: '$', data: null }, next]
      if (buf.length < next + length + 2) return undefined
      return [{ type: '$', data: buf.subarray(next, next + length) }, next + length + 2]
    }
    case '*': {
      const count = Number(line)
      if (!Number.isInteger(count)) throw new Error(`malformed array length ${JSON.stringify(line)}`)
      if (count < 0) return [{ type: '*', items: null }, next]
      const items: Reply[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseAt(buf, at)
        if (item === undefined) return undefined
        items.push(item[0])
        at = item[1]
      }
      return [{ type: '*', items }, at]
    }
    default:
      throw new Error(`malformed reply: type byte 0x${(buf[start] as number).toString(16)}`)
  }
}

/** Bytes shown for a person: a JSON string of the latin1 text, cut at `max` characters. */
export function showBytes (bytes: Buffer | string, max = 300): string {
  const s = typeof bytes === 'string' ? bytes : bytes.toString('latin1')
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}... (${s.length} bytes)` : JSON.stringify(s)
}
