import { RespError, type RespValue } from '../protocol/reply-parser.js'

// Replies printed as redis-cli prints them on a terminal (README.md §keystone-cli).

/** A byte string quoted with escapes, as redis-cli shows values. */
export function quoteBytes (value: Buffer): string {
  let out = '"'
  for (const c of value) {
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += '\\\\'
    else if (c === 0x0a) out += '\\n'
    else if (c === 0x0d) out += '\\r'
    else if (c === 0x09) out += '\\t'
    else if (c === 0x07) out += '\\a'
    else if (c === 0x08) out += '\\b'
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c)
    else out += '\\x' + c.toString(16).padStart(2, '0')
  }
  return out + '"'
}

export function formatReply (value: RespValue, indent = ''): string {
  if (value === null) return '(nil)'
  if (value instanceof RespError) return `(error) ${value.message}`
  if (typeof value === 'number' || typeof value === 'bigint') return `(integer) ${value}`
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value)) return quoteBytes(value)
  if (value.length === 0) return '(empty array)'
  const width = String(value.length).length
  return value.map((item, i) => {
    const label = `${String(i + 1).padStart(width)}) `
    const pad = indent + ' '.repeat(label.length)
    return (i === 0 ? '' : indent) + label + formatReply(item, pad)
  }).join('\n')
}

/** Commands whose text reply redis-cli prints raw rather than quoted. */
export function printsRaw (args: readonly string[]): boolean {
  const name = (args[0] ?? '').toLowerCase()
  const sub = (args[1] ?? '').toLowerCase()
  return name === 'info' || (name === 'client' && (sub === 'list' || sub === 'info'))
}

/** A reply as keystone-cli prints it for this command. */
export function formatFor (args: readonly string[], value: RespValue): string {
  if (Buffer.isBuffer(value) && printsRaw(args)) return value.toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, '')
  return formatReply(value)
}

const NEWLINE = Buffer.from('\n')

function rawParts (value: RespValue, parts: Buffer[]): void {
  if (value === null) return
  if (Buffer.isBuffer(value)) parts.push(value)
  else if (value instanceof RespError) parts.push(Buffer.from(value.message + '\n', 'utf8'))
  else if (typeof value === 'string') parts.push(Buffer.from(value, 'latin1'))
  else if (typeof value === 'number' || typeof value === 'bigint') parts.push(Buffer.from(String(value)))
  else {
    value.forEach((item, i) => {
      if (i > 0) parts.push(NEWLINE)
      rawParts(item, parts)
    })
  }
}

/**
 * A reply as `redis-cli --raw` prints it, final newline included: values as
 * their bytes, integers as digits, nil as nothing, an error as its text and a
 * newline (so an empty line follows it), arrays one element per line, nested
 * arrays flattened.
 */
export function formatRaw (value: RespValue): Buffer {
  const parts: Buffer[] = []
  rawParts(value, parts)
  parts.push(NEWLINE)
  return Buffer.concat(parts)
}
