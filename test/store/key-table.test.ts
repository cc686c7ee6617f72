import t from 'tap'
import fc from 'fast-check'
import { DIGEST_BUCKETS, keyHash, keyHashOfBytes } from '../../lib/store/digest.js'
import type { Entry } from '../../lib/store/entry.js'
import { KeyTable } from '../../lib/store/key-table.js'
import { halfSipHash13 } from '../../lib/store/sip-hash.js'
import { Store } from '../../lib/store/store.js'

const latin1 = (v: Buffer | string | null): string | null => v === null || typeof v === 'string' ? v : v.toString('latin1')

/** What a lookup gives, comparable: a cell's entry is a fresh object, an object entry the one stored. */
function shape (e: Entry | undefined): unknown {
  if (e === undefined) return undefined
  return { value: latin1(e.value), expiresAt: e.expiresAt, wall: e.wall, logical: e.logical, node: e.node, counter: e.counter !== undefined }
}

// Keys whose hashes a test chooses: few distinct ones, so most keys share a
// bucket and a first slot with others (long probes), over a few buckets.
const arbKey = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '', 'k\u00ff\u0000'),
  fc.string({ maxLength: 3 }).map(s => `long-${s}-${'x'.repeat(250)}`), // too long for a cell: an object
  fc.constant('past-latin1-\u0101') // not bytes a cell holds: an object
)
// Four buckets, two first slots in each (bit 12), half the hashes past 2^31 (an Int32Array holds them negative).
const tinyHash = (key: string): number => (keyHash(key) & 0x80001003) >>> 0
const tinyPlace = (key: string): number => (keyHash(key) & 0x80011000) >>> 0 // were a table placed by the keyed hash
const arbEntry = fc.record({
  value: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ minLength: 129, maxLength: 140 }).map(a => Buffer.from(a))), { freq: 4 }),
  expiresAt: fc.constantFrom(0, 5),
  wall: fc.nat(1000),
  logical: fc.nat(3),
  node: fc.constantFrom('n1', 'n2'),
  counter: fc.boolean()
}).map(({ counter, ...e }): Entry => counter ? { ...e, counter: { base: null, contribs: [], seen: [] } } : e)
const arbOp = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: arbKey, entry: arbEntry }),
  fc.record({ op: fc.constant('delete' as const), key: arbKey }),
  fc.record({ op: fc.constant('get' as const), key: arbKey })
)

t.test('property: with most keys sharing a hash, the table gives what a Map of keys would, and gives every cell and object back', async t => {
  fc.assert(fc.property(fc.array(arbOp, { maxLength: 80 }), fc.boolean(), (ops, early) => {
    // Half the histories turn their tables to the (test's) keyed placement at the first probe past two slots.
    const table = early ? new KeyTable(tinyPlace, () => 2) : new KeyTable(tinyPlace)
    const model = new Map<string, Entry>()
    for (const step of ops) {
      const h = tinyHash(step.key)
      if (step.op === 'set') {
        const entry = { ...step.entry }
        table.set(h, step.key, entry)
        model.set(step.key, entry)
      } else if (step.op === 'delete') {
        table.delete(h, step.key)
        model.delete(step.key)
      }
      // A lookup right after a change (the remembered one) and a fresh one of another key.
      if (JSON.stringify(shape(table.get(h, step.key))) !== JSON.stringify(shape(model.get(step.key)))) return false
      const other = step.key === 'a' ? 'b' : 'a'
      if (JSON.stringify(shape(table.get(tinyHash(other), other))) !== JSON.stringify(shape(model.get(other)))) return false
      const forWrite = table.getForWrite(h, step.key)
      const wanted = model.get(step.key)
      if ((forWrite === undefined) !== (wanted === undefined) || (wanted !== undefined && (forWrite?.wall !== wanted.wall || (forWrite.value === null) !== (wanted.value === null)))) return false
    }
    const seen = new Map<string, unknown>()
    let sizes = 0
    for (let b = 0; b < DIGEST_BUCKETS; b++) {
      sizes += table.bucketSize(b)
      table.forEachIn(b, (key, entry) => seen.set(key, shape(entry)))
    }
    const live: string[] = []
    for (let b = 0; b < DIGEST_BUCKETS; b++) table.forEachLiveKey(b, 4, key => live.push(key))
    const wantedLive = [...model].filter(([, e]) => e.value !== null && (e.expiresAt === 0 || e.expiresAt > 4)).map(([k]) => k)
    if (sizes !== model.size || seen.size !== model.size || live.sort().join() !== wantedLive.sort().join()) return false
    for (const [key, e] of model) if (JSON.stringify(seen.get(key)) !== JSON.stringify(shape(e))) return false
    for (const key of [...model.keys()]) table.delete(tinyHash(key), key)
    return table.cellsInUse === 0 && table.objectsInUse === 0
  }), { numRuns: 2000 })
  t.pass('2000 histories')
})

t.test('property: many keys in few buckets, written and deleted at random: tables grow, deletions move keys back, nothing is lost', async t => {
  // Four buckets, 64 first slots in each: runs long enough that tables turn to the keyed placement (64 other first slots).
  const narrowHash = (key: string): number => (keyHash(key) & 0x8003f003) >>> 0
  const narrowPlace = (key: string): number => ((keyHash(key) >>> 8 & 0x3f) << 12 | keyHash(key) & 0x80000000) >>> 0
  let rekeyed = 0
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(400), fc.boolean(), fc.nat(3)), { minLength: 200, maxLength: 1500 }), ops => {
    const table = new KeyTable(narrowPlace, () => 16) // turned over at 16 slots: both placements in most histories
    const model = new Map<string, number>()
    for (const [n, write, kind] of ops) {
      const key = kind === 3 ? `object-${n}` : `k${n}`
      if (write) {
        const entry: Entry = { value: kind === 3 ? Buffer.alloc(200, n) : `v${n}`, expiresAt: 0, wall: n, logical: 0, node: 'n1' }
        table.set(narrowHash(key), key, entry)
        model.set(key, n)
      } else {
        table.delete(narrowHash(key), key)
        model.delete(key)
      }
    }
    let count = 0
    for (let b = 0; b < DIGEST_BUCKETS; b++) {
      count += table.bucketSize(b)
      let walked = 0
      table.forEachIn(b, (key, e) => { if (model.get(key) === e.wall) walked++ })
      if (walked !== table.bucketSize(b)) return false
    }
    if (count !== model.size) return false
    for (let n = 0; n <= 400; n++) {
      for (const key of [`k${n}`, `object-${n}`]) if (table.get(narrowHash(key), key)?.wall !== model.get(key)) return false
    }
    rekeyed += table.keyedTables
    return true
  }), { numRuns: 300 })
  t.pass('300 histories')
  t.ok(rekeyed > 0, `tables placed again by the keyed hash on the way: ${rekeyed}`)
})

t.test('a change to the table during a walk of a bucket is refused (slots would move under the walk)', async t => {
  const table = new KeyTable()
  for (const key of ['a', 'b', 'c']) table.set(0, key, { value: key, expiresAt: 0, wall: 1, logical: 0, node: 'n1' })
  t.throws(() => table.forEachIn(0, key => table.delete(0, key)), /during a walk/)
  t.throws(() => table.forEachLiveKey(0, 0, key => table.set(0, key + 'x', { value: 'x', expiresAt: 0, wall: 1, logical: 0, node: 'n1' })), /during a walk/)
  t.throws(() => table.forEachIn(0, key => { table.forEachIn(0, () => {}); table.delete(0, key) }), /during a walk/, 'after a walk inside a walk too')
  const visited: string[] = []
  table.forEachIn(0, key => { visited.push(key); t.equal(table.get(0, key)?.value, key) })
  t.same(visited.sort(), ['a', 'b', 'c'], 'reads during a walk are fine, and a refused change leaves the table as it was')
  table.delete(0, 'b')
  t.equal(table.bucketSize(0), 2, 'and a change after it is taken')
})

t.test('keys built to have consecutive first slots make one long run, each insert reading one slot; the first lookup that reads the run turns the table', async t => {
  const table = new KeyTable()
  const entry = (n: number): Entry => ({ value: `v${n}`, expiresAt: 0, wall: n, logical: 0, node: 'n1' })
  for (let j = 0; j < 3000; j++) table.set(j << 12, `k${j}`, entry(j)) // bucket 0, first slot j
  t.equal(table.keyedTables, 0, 'the inserts alone never probed far')
  t.equal(table.get(0, 'absent'), undefined, 'a key absent, whose probe starts at the run\'s head')
  t.equal(table.keyedTables, 1, 'that lookup turned the table')
  t.ok(table.probeLength(0, 'absent') < 50, 'and the same lookup is short now')
  let found = 0
  for (let j = 0; j < 3000; j++) if (table.get(j << 12, `k${j}`)?.wall === j) found++
  t.equal(found, 3000, 'every key is still there')
  const once = new KeyTable(() => 0, () => 16) // a keyed placement that spreads nothing
  for (let j = 0; j < 200; j++) once.set(0, `k${j}`, entry(j))
  t.equal(once.keyedTables, 1, 'a table turns once: its keyed placement is not undone by long probes')
})

t.test('ordinary keys never turn a table: 1,000,000 of them leave every table on keyHash (the keyed hash costs every lookup)', async t => {
  const table = new KeyTable()
  for (let i = 0; i < 1_000_000; i++) {
    const key = `key:${String(i).padStart(9, '0')}`
    table.set(keyHash(key), key, { value: null, expiresAt: 0, wall: 1, logical: 0, node: 'n1' })
  }
  t.equal(table.keyedTables, 0)
})

/** Two keys with the same 32-bit FNV hash: the birthday search over counted keys. */
function collidingKeys (): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const key = `key:${i}`
    const h = keyHash(key)
    const other = seen.get(h)
    if (other !== undefined) return [other, key]
    seen.set(h, key)
  }
}

t.test('two keys with one hash, through the store: each keeps its own value, version and removal', async t => {
  const [a, b] = collidingKeys()
  t.equal(keyHash(a), keyHash(b))
  const store = new Store({ nodeId: 'n1' })
  store.set(a, Buffer.from('value of a'))
  store.set(b, Buffer.from('value of b'))
  t.equal(latin1(store.get(a)?.value ?? null), 'value of a')
  t.equal(latin1(store.get(b)?.value ?? null), 'value of b')
  store.set(a, Buffer.from('x'.repeat(200))) // a moves from its cell to an object
  t.equal(latin1(store.get(a)?.value ?? null), 'x'.repeat(200))
  t.equal(latin1(store.get(b)?.value ?? null), 'value of b')
  store.delete(b)
  t.equal(store.get(b), undefined)
  t.equal(store.peek(b)?.value, null, 'b is a tombstone')
  t.equal(store.size, 1)
  t.same(store.keys('*'), [a])
  store.set(a, Buffer.from('small again'))
  t.equal(latin1(store.get(a)?.value ?? null), 'small again')
  const walked: string[] = []
  store.forEachEntry(key => walked.push(key))
  t.same(walked.sort(), [a, b].sort())
})

/**
 * Keys sharing one 32-bit FNV hash, 2^rounds of them (Joux's multicollision):
 * FNV-1a's state after a key's bytes is all that the rest sees, so a pair of
 * 7-byte blocks that lead from one state to the same state, found by the
 * birthday search, can follow any prefix of such blocks and be combined.
 */
function fnvMulticollision (rounds: number): string[] {
  const step = (h: number, c: number): number => Math.imul(h ^ c, 0x01000193) >>> 0
  let keys = ['']
  let state = 0x811c9dc5
  for (let r = 0; r < rounds; r++) {
    const seen = new Map<number, string>()
    for (let i = 0; ; i++) {
      const x = Math.imul(i, 0x9e3779b1) >>> 0
      const block = String.fromCharCode(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24)
      let h = state
      for (let j = 0; j < block.length; j++) h = step(h, block.charCodeAt(j))
      const other = seen.get(h)
      if (other !== undefined) {
        keys = keys.flatMap(k => [k + other, k + block])
        state = h
        break
      }
      seen.set(h, block)
    }
  }
  return keys
}

t.test('keys a client made to share the public key hash still spread over their bucket (it turns to the keyed placement)', async t => {
  const keys = fnvMulticollision(10)
  t.equal(new Set(keys).size, 1024, '1,024 keys')
  t.equal(new Set(keys.map(keyHash)).size, 1, 'one FNV hash for all: one bucket, the same digest leaf')
  const longest = (table: KeyTable): number => {
    for (const key of keys) table.set(keyHash(key), key, { value: 'v', expiresAt: 0, wall: 1, logical: 0, node: 'n1' })
    return Math.max(...keys.map(key => table.probeLength(keyHash(key), key)))
  }
  const table = new KeyTable()
  t.ok(longest(table) < 100, 'short probes')
  t.equal(table.keyedTables, 1, 'their table turned to the keyed placement')
  t.equal(longest(new KeyTable(null, () => Infinity)), 1024, 'left on the public hash, the last key would read every slot (what the test guards against)')
})

t.test('HalfSipHash-1-3 gives the test vectors of Linux\'s hsiphash (32-bit build: key 00..07, input 00..n-1)', async t => {
  const vectors = [0x5814c896, 0xe7e864ca, 0xbc4b0e30, 0x01539939, 0x7e059ea6, 0x88e3d89b, 0xa0080b65, 0x9d38d9d6,
    0x577999b1, 0xc839caed, 0xe4fa32cf, 0x959246ee, 0x6b28096c, 0x66dd9cd6, 0x16658a7c, 0xd0257b04]
  vectors.forEach((want, n) => {
    let input = ''
    for (let i = 0; i < n; i++) input += String.fromCharCode(i)
    t.equal(halfSipHash13(input, 0x03020100, 0x07060504), want, `${n} bytes`)
  })
})

t.test('Store.warm reads keys\' slots, cells and leaves and changes nothing; keyHashOfBytes is keyHash of the bytes as latin1', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), bytes => {
    const b = Buffer.from(bytes)
    return keyHashOfBytes(b) === keyHash(b.toString('latin1'))
  }), { numRuns: 2000 })
  const store = new Store({ nodeId: 'n1' })
  const keys: string[] = []
  for (let i = 0; i < 5000; i++) keys.push(`key:${i}`)
  // Cells, objects (a counter over a base, a long value), tombstones; and a table turned to the keyed placement.
  for (const [i, key] of keys.entries()) {
    if (i % 7 === 0) store.set(key, Buffer.from('x'.repeat(300)))
    else if (i % 5 === 0) store.increment(key, 3, 0)
    else store.set(key, Buffer.from(`value ${i}`))
    if (i % 11 === 0) store.delete(key)
  }
  const colliding = fnvMulticollision(8)
  for (const key of colliding) store.set(key, Buffer.from('v'))
  const before = { root: store.digest.rootHex(), entries: [...keys, ...colliding].map(k => JSON.stringify(store.peek(k))) }
  const asked = [...keys, ...colliding, 'absent', ''].map(k => Buffer.from(k, 'latin1'))
  for (let i = 0; i < asked.length; i += 64) store.warm(asked.slice(i, i + 64))
  t.equal(store.digest.rootHex(), before.root, 'the digest is the same')
  t.same([...keys, ...colliding].map(k => JSON.stringify(store.peek(k))), before.entries, 'every entry is the same')
})
