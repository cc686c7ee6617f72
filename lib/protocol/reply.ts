// RESP2 reply encoders (PROTOCOL.md §Replies). An encoded reply is its exact
// bytes: a latin1 string (one char = one byte) or a Buffer. Strings keep the
// common replies (+OK, :1, $-1) allocation-free; values stay Buffers.

export type Encoded = string | Buffer

export const OK = '+OK\r\n'
export const PONG = '+PONG\r\n'
export const NIL = '$-1\r\n'
export const EMPTY_ARRAY = '*0\r\n'
export const ZERO = ':0\r\n'
export const ONE = ':1\r\n'

const NEWLINES = /[\r\n]+/g

/** `+text`: text must not contain CR or LF; they become spaces, as Redis does. */
export function simple (text: string): string {
  return `+${text.replace(NEWLINES, ' ')}\r\n`
}

/** `-CODE message` */
export function error (message: string): string {
  return `-${message.replace(NEWLINES, ' ')}\r\n`
}

/** `:n`; a bigint for 64-bit values past JavaScript's safe integers. */
export function integer (n: number | bigint): string {
  return n === 0 ? ZERO : n === 1 ? ONE : `:${n}\r\n`
}

/** `$len\r\n<bytes>\r\n`, or `$-1` for null. A string argument is taken as latin1 bytes. */
export function bulk (value: Buffer | string | null | undefined): Encoded {
  if (value === null || value === undefined) return NIL
  if (typeof value === 'string') return `$${value.length}\r\n${value}\r\n`
  if (value.length < 512) return `$${value.length}\r\n${value.toString('latin1')}\r\n`
  const out = Buffer.allocUnsafe(value.length + 16 + 2)
  let n = out.write(`$${value.length}\r\n`, 0, 'latin1')
  n += value.copy(out, n)
  n += out.write('\r\n', n, 'latin1')
  return out.subarray(0, n)
}

/** A bulk string of UTF-8 text (INFO, CLIENT LIST), encoded as bytes. */
export function bulkText (text: string): Encoded {
  return bulk(Buffer.from(text, 'utf8'))
}

export function array (items: readonly Encoded[]): Encoded {
  const head = `*${items.length}\r\n`
  let allStrings = true
  for (const item of items) if (typeof item !== 'string') { allStrings = false; break }
  if (allStrings) return head + items.join('')
  return concat([head, ...items])
}

export function bulkArray (values: ReadonlyArray<Buffer | string | null>): Encoded {
  return array(values.map(bulk))
}

/** Joins encoded replies into one chunk for a single socket write. */
export function concat (parts: readonly Encoded[]): Encoded {
  let size = 0
  let allStrings = true
  for (const p of parts) {
    size += p.length
    if (typeof p !== 'string') allStrings = false
  }
  if (allStrings) return parts.join('')
  const out = Buffer.allocUnsafe(size)
  let n = 0
  for (const p of parts) n += typeof p === 'string' ? out.write(p, n, 'latin1') : p.copy(out, n)
  return out
}

/** A request in RESP form: what peers and the CLI send. */
export function command (args: ReadonlyArray<Buffer | string>): Encoded {
  return array(args.map(a => bulk(a)))
}
