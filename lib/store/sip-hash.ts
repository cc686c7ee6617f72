import { randomBytes } from 'node:crypto'

// HalfSipHash (Aumasson and Bernstein's SipHash on 32-bit words), keyed: where
// a key sits in the store's hash tables (key-table.ts). The store's own key
// hash (FNV-1a, digest.ts) is the same on every node, which the digest needs,
// and anyone can compute it: keys chosen to share it would all probe the same
// slots. A secret key per process makes such keys as hard to find as guessing
// the key, as Redis does with SipHash for its dictionaries. Written from the
// published algorithm; Linux's test vectors for its hsiphash check it.

/**
 * HalfSipHash-1-3 with a 32-bit result (Linux's hsiphash) of a latin1 string's
 * bytes (one char, one byte), under the 64-bit key (k0, k1: its little-endian
 * halves). A character past 255 (never in a key from the network, which is
 * latin1) mixes into its neighbours' bytes: still deterministic, but such keys
 * can collide under every key. The state is four locals, so the one round is
 * written once, inside a loop over every step: a round per message word, then
 * three to finalise (written out three times it ran about a third faster, but
 * only a table under attack uses it, key-table.ts).
 */
export function halfSipHash13 (key: string, k0: number, k1: number): number {
  let v0 = k0
  let v1 = k1
  let v2 = 0x6c796765 ^ k0
  let v3 = 0x74656462 ^ k1
  const n = key.length
  const words = n >>> 2
  for (let step = 0; step <= words + 3; step++) {
    let m = 0 // the word the round takes in: 0 in the finalisation rounds
    if (step < words) { // a whole 4-byte word, little-endian
      const i = step * 4
      m = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24)
    } else if (step === words) { // the last word: the 0 to 3 bytes left, and the length in the top byte
      const i = step * 4
      const rest = n & 3
      m = n << 24
      if (rest === 3) m |= key.charCodeAt(i + 2) << 16
      if (rest >= 2) m |= key.charCodeAt(i + 1) << 8
      if (rest >= 1) m |= key.charCodeAt(i)
    } else if (step === words + 1) {
      v2 ^= 0xff
    }
    v3 ^= m
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16)
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16)
    v0 ^= m
  }
  return (v1 ^ v3) >>> 0
}

/** A fresh secret key: two 32-bit halves. */
export function randomSipKey (): [number, number] {
  const bytes = randomBytes(8)
  return [bytes.readInt32LE(0), bytes.readInt32LE(4)]
}
