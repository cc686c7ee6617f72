// Redis glob-style patterns (KEYS, SCAN MATCH, CONFIG GET): * ? [abc] [^a] [a-z] and \x escapes.
// Keys are latin1 strings, so a pattern matches bytes.

export function globMatch (pattern: string, text: string): boolean {
  return match(pattern, text)
}

export function globMatchNoCase (pattern: string, text: string): boolean {
  return match(pattern.toLowerCase(), text.toLowerCase())
}

/**
 * Every token but `*` matches exactly one character, so on a mismatch it is enough
 * to let the most recent `*` absorb one more character: no recursion, and
 * O(pattern × text) time. (A recursive matcher takes exponential time on
 * `a*a*a*...b`, the hole Redis closed in CVE-2022-36021; here a client could
 * stall the server with one KEYS.)
 */
function match (p: string, s: string): boolean {
  let pi = 0
  let si = 0
  let starP = -1 // pattern index just after the last `*` seen
  let starS = 0 // where the text that `*` absorbs currently ends
  while (si < s.length) {
    if (pi < p.length) {
      if (p[pi] === '*') {
        starP = ++pi
        starS = si
        continue
      }
      const next = matchOne(p, pi, s[si] as string)
      if (next >= 0) {
        pi = next
        si++
        continue
      }
    }
    if (starP < 0) return false
    pi = starP
    si = ++starS
  }
  while (p[pi] === '*') pi++
  return pi === p.length
}

/** Matches ch against the token at p[pi]; returns the index after the token, or -1. */
function matchOne (p: string, pi: number, ch: string): number {
  const c = p[pi]
  if (c === '?') return pi + 1
  if (c === '[') {
    const r = matchClass(p, pi + 1, ch)
    return r.matched ? r.next : -1
  }
  if (c === '\\' && pi + 1 < p.length) pi++ // an escaped character matches itself
  return p[pi] === ch ? pi + 1 : -1
}

function matchClass (p: string, pi: number, ch: string): { matched: boolean, next: number } {
  let negate = false
  if (p[pi] === '^') { negate = true; pi++ }
  let matched = false
  while (pi < p.length && p[pi] !== ']') {
    if (p[pi] === '\\' && pi + 1 < p.length) {
      pi++
      if (p[pi] === ch) matched = true
      pi++
    } else if (p[pi + 1] === '-' && pi + 2 < p.length && p[pi + 2] !== ']') {
      let lo = p[pi] as string
      let hi = p[pi + 2] as string
      if (lo > hi) [lo, hi] = [hi, lo]
      if (ch >= lo && ch <= hi) matched = true
      pi += 3
    } else {
      if (p[pi] === ch) matched = true
      pi++
    }
  }
  // pi is at ']' (or the end of an unterminated class, which Redis also accepts)
  return { matched: negate ? !matched : matched, next: pi < p.length ? pi + 1 : pi }
}
