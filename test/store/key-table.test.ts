import t from 'tap'
import fc from 'fast-check'
import { DIGEST_BUCKETS, keyHash } from '../../lib/store/digest.js'
import type { Entry } from '../../lib/store/entry.js'
import { KeyTable } from '../../lib/store/key-table.js'
import { Store } from '../../lib/store/store.js'

const latin1 = (v: Buffer | string | null): string | null => v === null || typeof v === 'string' ? v : v.toString('latin1')

/** What a lookup gives, comparable: a cell's entry is a fresh object, an object entry the one stored. */
function shape (e: Entry | undefined): unknown {
  if (e === undefined) return undefined
  return { value: latin1(e.value), expiresAt: e.expiresAt, wall: e.wall, logical: e.logical, node: e.node, counter: e.counter !== undefined }
}

// Keys whose hashes a test chooses: few distinct ones, so most keys share a
// hash with others (the table's lists of collisions), over a few buckets.
const arbKey = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '', 'k\u00ff\u0000'),
  fc.string({ maxLength: 3 }).map(s => `long-${s}-${'x'.repeat(250)}`), // too long for a cell: an object
  fc.constant('past-latin1-\u0101') // not bytes a cell holds: an object
)
const tinyHash = (key: string): number => {
  const h = keyHash(key)
  return (h & 3) | ((h >>> 16) & 1) << Math.log2(DIGEST_BUCKETS) // two bits of bucket, one of hash within it
}
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

t.test('property: with most keys sharing a hash, the table gives what a Map of keys would, and gives every cell back', async t => {
  fc.assert(fc.property(fc.array(arbOp, { maxLength: 80 }), ops => {
    const table = new KeyTable()
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
    return table.cellsInUse === 0
  }), { numRuns: 2000 })
  t.pass('2000 histories')
})

t.test('a walk of a bucket that deletes keys as it goes visits each remaining key once', async t => {
  const table = new KeyTable()
  const keys = ['a', 'b', 'c', 'd', 'e', 'f']
  for (const key of keys) table.set(0, key, { value: key, expiresAt: 0, wall: 1, logical: 0, node: 'n1' }) // one hash: one list
  table.set(1 << 12, 'g', { value: 'g', expiresAt: 0, wall: 1, logical: 0, node: 'n1' })
  const visited: string[] = []
  table.forEachIn(0, key => {
    visited.push(key)
    if (key === 'b') { table.delete(0, 'd'); table.delete(0, 'b') }
  })
  t.same(visited.sort(), ['a', 'b', 'c', 'e', 'f', 'g'])
  t.equal(table.bucketSize(0), 5)
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
