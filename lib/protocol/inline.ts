// PROTOCOL.md §Inline commands: tokens split on spaces and tabs; "double quoted"
// tokens with escapes; 'single quoted' tokens literal except \'. A closing quote
// must be followed by a separator or the end of the line, as in Redis.

const SPACE = 32
const TAB = 9
const CR = 13
const BACKSLASH = 92
const DQUOTE = 34
const SQUOTE = 39

const ESCAPES: Record<number, number> = {
  110: 10, // \n
  114: 13, // \r
  116: 9, // \t
  98: 8, // \b
  97: 7 // \a
}

function isSeparator (c: number | undefined): boolean {
  return c === SPACE || c === TAB || c === CR
}

function hexValue (c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/**
 * Splits one inline command line, buf[start, end), into argument byte strings.
 * Returns null for unbalanced quotes.
 */
export function splitInlineArgs (buf: Buffer, start: number, end: number): Buffer[] | null {
  const args: Buffer[] = []
  let i = start
  while (i < end) {
    while (i < end && isSeparator(buf[i])) i++
    if (i >= end) break
    // Fast path: a token with no quotes is a plain slice of the line.
    let j = i
    while (j < end && !isSeparator(buf[j]) && buf[j] !== DQUOTE && buf[j] !== SQUOTE) j++
    if (j >= end || isSeparator(buf[j])) {
      args.push(buf.subarray(i, j))
      i = j
      continue
    }
    const token: number[] = []
    for (let k = i; k < j; k++) token.push(buf[k] as number)
    i = j
    while (i < end && !isSeparator(buf[i])) {
      const c = buf[i] as number
      if (c === DQUOTE) {
        const next = readDoubleQuoted(buf, i + 1, end, token)
        if (next < 0) return null
        i = next
      } else if (c === SQUOTE) {
        const next = readSingleQuoted(buf, i + 1, end, token)
        if (next < 0) return null
        i = next
      } else {
        token.push(c)
        i++
      }
    }
    args.push(Buffer.from(token))
  }
  return args
}

/** Reads up to the closing `"`; returns the index after it, or -1 when unbalanced. */
function readDoubleQuoted (buf: Buffer, i: number, end: number, token: number[]): number {
  while (i < end) {
    const c = buf[i] as number
    if (c === DQUOTE) return closeQuote(buf, i + 1, end)
    if (c === BACKSLASH && i + 1 < end) {
      const e = buf[i + 1] as number
      const hi = hexValue(buf[i + 2])
      const lo = hexValue(buf[i + 3])
      if (e === 120 && i + 3 < end && hi >= 0 && lo >= 0) { // \xHH
        token.push(hi * 16 + lo)
        i += 4
      } else {
        token.push(ESCAPES[e] ?? e)
        i += 2
      }
    } else {
      token.push(c)
      i++
    }
  }
  return -1
}

function readSingleQuoted (buf: Buffer, i: number, end: number, token: number[]): number {
  while (i < end) {
    const c = buf[i] as number
    if (c === SQUOTE) return closeQuote(buf, i + 1, end)
    if (c === BACKSLASH && buf[i + 1] === SQUOTE && i + 1 < end) {
      token.push(SQUOTE)
      i += 2
    } else {
      token.push(c)
      i++
    }
  }
  return -1
}

/** A closing quote must end the token. */
function closeQuote (buf: Buffer, i: number, end: number): number {
  return i >= end || isSeparator(buf[i]) ? i : -1
}
