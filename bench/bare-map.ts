import { keyOf, valueOf } from './pipe-load.js'

// The memory section's floor (bench/memory.ts): what the string cases' data
// costs in V8 with nothing else around it. `node --expose-gc
// dist/bench/bare-map.js N SIZE KIND` fills one Map with the keys and values
// of the string files (bench/pipe-load.ts), N of them, values of SIZE bytes,
// and prints one line of JSON: { keys, emptyRss, emptyUsed, rss, used }, the
// empty process's figures and the filled one's, each after two full
// collections (used: heapUsed + external, as Keystone's INFO used_memory).
//
// Each key and value is taken out of a network-sized buffer, as a server
// reading them off a socket would: the key as a latin1 string, the value as
// KIND says: `buffer`, a Buffer of its own (`Buffer.from(view)`, which Node
// carves out of its 8 KB pool below 4 KB), or `latin1`, a latin1 string
// (`view.toString('latin1')`, which is Buffer's latin1Slice; what Keystone's
// store does with a small value). No socket, no protocol: only the Map.

type Kind = 'buffer' | 'latin1'

/** Digits of the index at the end of a value (bench/pipe-load.ts valueOf). */
const INDEX_DIGITS = 8

export interface BareMapFigures {
  keys: number
  emptyRss: number
  emptyUsed: number
  rss: number
  used: number
}

function collect (): { rss: number, used: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('bare-map needs node --expose-gc')
  gc()
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, used: m.heapUsed + m.external }
}

function fill (n: number, size: number, kind: Kind): Map<string, Buffer | string> {
  const keyLength = keyOf(0).length
  const wire = Buffer.alloc(keyLength + size)
  // Every value is the same 'v's ending in its index: write them once, then only the key and digits.
  wire.write(valueOf(0, size), keyLength, 'latin1')
  const digits = Math.min(size, INDEX_DIGITS)
  const map = new Map<string, Buffer | string>()
  for (let i = 0; i < n; i++) {
    wire.write(keyOf(i), 0, 'latin1')
    wire.write(valueOf(i, digits), keyLength + size - digits, 'latin1')
    const view = wire.subarray(keyLength)
    map.set(wire.toString('latin1', 0, keyLength), kind === 'buffer' ? Buffer.from(view) : view.toString('latin1'))
  }
  return map
}

function main (): void {
  const [n, size, kind] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]]
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(size) || size < 1 || (kind !== 'buffer' && kind !== 'latin1')) {
    throw new TypeError('usage: node --expose-gc dist/bench/bare-map.js N SIZE buffer|latin1')
  }
  const empty = collect()
  const map = fill(n, size, kind)
  const loaded = collect()
  // map.size read after the measurement: the Map is alive when memory is read.
  const figures: BareMapFigures = { keys: map.size, emptyRss: empty.rss, emptyUsed: empty.used, rss: loaded.rss, used: loaded.used }
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}

if (require.main === module) main()
