// Shared helpers for the unit tests: ways to cut a byte stream into chunks, as a
// socket might deliver it (pg-protocol's "split buffer" tests).

/** Copies buf[start, end) so a parser cannot reach bytes outside its chunk. */
function slice (buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end))
}

/** buf cut at the given offsets (sorted, deduplicated, clamped to the buffer). */
export function cutAt (buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map(c => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of points) {
    chunks.push(slice(buf, from, p))
    from = p
  }
  chunks.push(slice(buf, from, buf.length))
  return chunks
}

/** One byte per chunk. */
export function byteByByte (buf: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  for (let i = 0; i < buf.length; i++) chunks.push(slice(buf, i, i + 1))
  return chunks
}

/** Every way to cut buf into two chunks (the first or second may be empty). */
export function * twoWaySplits (buf: Buffer): Generator<{ at: number, chunks: Buffer[] }> {
  for (let i = 0; i <= buf.length; i++) yield { at: i, chunks: [slice(buf, 0, i), slice(buf, i, buf.length)] }
}

/**
 * Three-chunk cuts: every pair of offsets when the buffer is short, otherwise
 * `samples` pairs spread deterministically over it.
 */
export function * threeWaySplits (buf: Buffer, samples = 200): Generator<{ at: [number, number], chunks: Buffer[] }> {
  const n = buf.length
  if ((n + 1) * (n + 2) / 2 <= samples * 4) {
    for (let i = 0; i <= n; i++) {
      for (let j = i; j <= n; j++) yield { at: [i, j], chunks: cutAt(buf, [i, j]) }
    }
    return
  }
  for (let k = 0; k < samples; k++) {
    // a fixed stride walk: deterministic, and covers the buffer evenly
    const i = (k * 7919) % (n + 1)
    const j = i + ((k * 104729) % (n + 1 - i))
    yield { at: [i, j], chunks: cutAt(buf, [i, j]) }
  }
}

/** A readable rendering of bytes for test names. */
export function show (buf: Buffer): string {
  const text = JSON.stringify(buf.toString('latin1'))
  return text.length > 60 ? text.slice(0, 57) + '..."' : text
}

/** An encoded reply as bytes. */
export const bytes = (e: string | Buffer): Buffer => typeof e === 'string' ? Buffer.from(e, 'latin1') : e

/** A string as latin1 bytes, one char per byte. */
export const b = (s: string): Buffer => Buffer.from(s, 'latin1')

/** `n` bytes covering every value 0..255 (NUL, CR and LF included). */
export function allBytes (n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff
  return out
}

/** mulberry32: a small seeded PRNG, so a failing run (its deltas, its schedule) can be replayed from its seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
