// A small seeded PRNG (mulberry32): the same seed gives the same schedule.

export class Random {
  private state: number

  constructor (readonly seed: number) {
    this.state = seed >>> 0
  }

  /** In [0, 1). */
  float (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int (lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  chance (p: number): boolean {
    return this.float() < p
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing')
    return items[Math.floor(this.float() * items.length)] as T
  }

  /** A 40-hex node id. */
  hexId (): string {
    let out = ''
    while (out.length < 40) out += Math.floor(this.float() * 0x10000).toString(16).padStart(4, '0')
    return out.slice(0, 40)
  }
}
