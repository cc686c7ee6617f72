// Redis glob-style patterns (KEYS, SCAN MATCH, CONFIG GET): * ? [abc] [^a] [a-z] and \x escapes.
// Keys are latin1 strings, so a pattern matches bytes.

export function globMatch (pattern: string, text: string): boolean {
  return matchFrom(pattern, 0, text, 0)
}

export function globMatchNoCase (pattern: string, text: string): boolean {
  return matchFrom(pattern.toLowerCase(), 0, text.toLowerCase(), 0)
}

function matchFrom (p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi] as string
    switch (c) {
      case '*': {
        while (p[pi + 1] === '*') pi++
        if (pi + 1 === p.length) return true
        for (let k = si; k <= s.length; k++) {
          if (matchFrom(p, pi + 1, s, k)) return true
        }
        return false
      }
      case '?':
        if (si >= s.length) return false
        si++
        pi++
        break
      case '[': {
        if (si >= s.length) return false
        const r = matchClass(p, pi + 1, s[si] as string)
        if (!r.matched) return false
        pi = r.next
        si++
        break
      }
      default: {
        if (c === '\\' && pi + 1 < p.length) pi++ // an escaped character matches itself
        if (s[si] !== p[pi]) return false
        si++
        pi++
      }
    }
  }
  return si === s.length
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
