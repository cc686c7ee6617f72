import t from 'tap'
import fc from 'fast-check'
import { SMALL_VALUE_MAX } from '../../lib/store/bytes.js'
import { Cells } from '../../lib/store/cells.js'
import { isLive, type Entry } from '../../lib/store/entry.js'
import { newHash } from '../../lib/store/hash.js'
import { NodeTable } from '../../lib/store/packed.js'

const arbEntry = fc.record({
  value: fc.option(fc.oneof(
    fc.uint8Array({ maxLength: SMALL_VALUE_MAX }).map(a => Buffer.from(a)),
    fc.uint8Array({ maxLength: SMALL_VALUE_MAX }).map(a => Buffer.from(a).toString('latin1'))
  ), { freq: 4 }),
  expiresAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 53 - 1 })),
  wall: fc.oneof(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.constant(1_700_000_000_000.5)),
  logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  node: fc.constantFrom('n1', 'node-b', '', 'a-much-longer-node-id-0123456789')
})

const latin1 = (v: Buffer | string | null): string | null => v === null || typeof v === 'string' ? v : v.toString('latin1')

/** A counter only ever incremented at one node, as a cell holds one: its value is its total in decimal. */
const arbCounter = fc.record({
  expiresAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 53 - 1 })),
  wall: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 53 - 1 })),
  logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  node: fc.constantFrom('-', 'n1'),
  c: fc.record({
    node: fc.constantFrom('n1', 'node-b', 'a-much-longer-node-id-0123456789'),
    epochWall: fc.oneof(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.constant(1_700_000_000_000.5)),
    epochLogical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    wall: fc.integer({ min: 0, max: 2 ** 53 - 1 }),
    logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    total: fc.oneof(fc.integer({ min: -20000, max: 20000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)),
    ftotal: fc.constant(0)
  })
}).map(({ c, ...version }): Entry => ({ ...version, value: String(c.total), counter: { base: null, contribs: [c], seen: [] } }))

t.test('property: a cell reads back what was stored (a value, a tombstone or a counter), written anew or over any other entry, and isLive agrees', async t => {
  const cells = new Cells(new NodeTable())
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(20), fc.oneof({ weight: 3, arbitrary: arbEntry }, { weight: 1, arbitrary: arbCounter })), { minLength: 1, maxLength: 60 }), fc.integer({ min: -2, max: 2 }), (writes, skew) => {
    // Twenty keys, each written over and over: cells reused in place, moved between classes, released.
    // Keys of 0 to 100 bytes, every byte value among them.
    const keyOf = (n: number): string => String.fromCharCode(255 - n, 0).repeat(n * 2.5)
    const held = new Map<number, { id: number, entry: Entry }>()
    for (const [key, entry] of writes) {
      const id = cells.store(keyOf(key), entry, held.get(key)?.id ?? -1)
      if (id < 0) return false
      held.set(key, { id, entry })
    }
    for (const [key, { id, entry }] of held) {
      const back = cells.read(id)
      const now = entry.expiresAt === 0 ? entry.wall : entry.expiresAt + skew
      if (latin1(back.value) !== latin1(entry.value) || back.expiresAt !== entry.expiresAt || back.wall !== entry.wall ||
        back.logical !== entry.logical || back.node !== entry.node || cells.isLive(id, now) !== isLive(entry, now)) return false
      if (JSON.stringify(back.counter) !== JSON.stringify(entry.counter)) return false
      if (cells.keyOf(id) !== keyOf(key) || !cells.holds(id, keyOf(key)) || cells.holds(id, keyOf(key) + 'x') || cells.holds(id, keyOf((key + 1) % 21))) return false
    }
    const ids = [...held.values()].map(h => h.id)
    const distinct = new Set(ids).size === ids.length && cells.live === ids.length
    for (const id of ids) cells.release(id)
    return distinct && cells.live === 0
  }), { numRuns: 1000 })
  t.pass('1000 histories: every cell distinct, holding its key, every one given back')
})

t.test('a value of the same size class is written in place; another size moves it, and what does not fit is refused', async t => {
  const cells = new Cells(new NodeTable())
  const base = { expiresAt: 0, wall: 1_700_000_000_000, logical: 3, node: 'n1' }
  const id = cells.store('key', { ...base, value: 'abc' }, -1)
  t.equal(cells.store('key', { ...base, value: 'abcde' }, id), id, 'up to 8 bytes of key and value: the same cell')
  t.equal(cells.read(id).value, 'abcde')
  t.equal(cells.keyOf(id), 'key', 'the key stays')
  const moved = cells.store('key', { ...base, value: 'abcdef' }, id)
  t.not(moved, id, 'nine bytes: a cell with more room')
  t.equal(cells.keyOf(moved), 'key', 'the key moves with it')
  t.equal(cells.live, 1, 'the old one given back')
  t.equal(cells.store('', { ...base, value: Buffer.alloc(0) }, -1) >= 0, true)
  t.equal(cells.read(cells.store('k', { ...base, value: '' }, -1)).value, '', 'an empty value is not a tombstone')
  t.equal(cells.read(cells.store('k', { ...base, value: null }, -1)).value, null, 'a tombstone')
  const full = cells.store('k'.repeat(120), { ...base, value: Buffer.alloc(SMALL_VALUE_MAX, 7) }, -1)
  t.same([cells.keyOf(full), cells.read(full).value], ['k'.repeat(120), '\x07'.repeat(SMALL_VALUE_MAX)], 'the largest key and value a cell takes')
  const live = cells.live
  t.equal(cells.store('key', { ...base, value: Buffer.alloc(SMALL_VALUE_MAX + 1) }, moved), -1, 'a larger value')
  t.equal(cells.live, live - 1, 'is refused, and the cell it would have replaced given back')
  t.equal(cells.store('k'.repeat(121), { ...base, value: Buffer.alloc(SMALL_VALUE_MAX) }, -1), -1, 'a key and value over 248 bytes together')
  t.equal(cells.store('k'.repeat(249), { ...base, value: null }, -1), -1, 'a key over 248 bytes')
  t.equal(cells.store('k\u0100', { ...base, value: 'v' }, -1), -1, 'a key with a character past latin1')
  t.equal(cells.live, live - 1, 'a refused key leaves no cell taken')
  t.equal(cells.store('k', { ...base, value: null, logical: 2 ** 32 }, -1), -1, 'a logical counter past 2^32')
  t.equal(cells.store('k', { ...base, value: null, counter: { base: null, contribs: [], seen: [] } }, -1), -1, 'a counter of no contribution')
  // A counter is held only as INCR at one node makes it: no base, one contribution of an integer total a double holds exactly, no marks.
  const c = { node: 'n1', epochWall: 1, epochLogical: 0, wall: 2, logical: 0, total: 5, ftotal: 0 }
  const counter = (state: NonNullable<Entry['counter']>, value = '5'): Entry => ({ ...base, value, counter: state })
  t.ok(cells.store('k', counter({ base: null, contribs: [c], seen: [] }), -1) >= 0, 'a counter of one contribution')
  t.equal(cells.store('k', counter({ base: Buffer.from('1'), contribs: [c], seen: [] }, '6'), -1), -1, 'a counter over a base')
  t.equal(cells.store('k', counter({ base: null, contribs: [c, { ...c, node: 'n2' }], seen: [] }, '10'), -1), -1, 'two contributions')
  t.equal(cells.store('k', counter({ base: null, contribs: [{ ...c, total: 7 }], seen: [c] }, '2'), -1), -1, 'a mark')
  t.equal(cells.store('k', counter({ base: null, contribs: [{ ...c, total: 2n ** 60n }], seen: [] }, String(2n ** 60n)), -1), -1, 'a total past 2^53')
  t.equal(cells.store('k', counter({ base: null, contribs: [{ ...c, ftotal: 0.5 }], seen: [] }, '5.5'), -1), -1, 'an INCRBYFLOAT')
  t.equal(cells.store('k', counter({ base: null, contribs: [{ ...c, logical: 2 ** 32 }], seen: [] }), -1), -1, 'a contribution\'s logical clock past 2^32')
  // The contribution starts at the first multiple of 8 bytes after the key: 208 + 34 fit in 248, 216 + 34 do not.
  const longest = cells.store('k'.repeat(208), counter({ base: null, contribs: [c], seen: [] }), -1)
  t.ok(longest >= 0, 'a key of 208 bytes, with the contribution\'s 34')
  t.same(cells.read(longest).counter, { base: null, contribs: [c], seen: [] }, 'reads back')
  cells.release(longest)
  t.equal(cells.store('k'.repeat(209), counter({ base: null, contribs: [c], seen: [] }), -1), -1, 'a key over 208 bytes, with the contribution\'s 34 after it')
  t.equal(cells.store('k', { ...base, value: null, hash: newHash() }, -1), -1, 'a hash')
})

t.test('many cells: chunks are added as a class fills, and freed cells are reused first', async t => {
  const cells = new Cells(new NodeTable())
  const ids: number[] = []
  for (let i = 0; i < 5000; i++) ids.push(cells.store(`key-${i}`, { value: `value-${i}`, expiresAt: 0, wall: i, logical: i, node: `n${i % 3}` }, -1))
  t.equal(new Set(ids).size, 5000)
  let intact = 0
  for (let i = 0; i < 5000; i++) if (cells.read(ids[i] as number).value === `value-${i}` && cells.read(ids[i] as number).wall === i && cells.keyOf(ids[i] as number) === `key-${i}`) intact++
  t.equal(intact, 5000, 'across chunks, every cell intact')
  cells.release(ids[42] as number)
  t.equal(cells.store('key-x', { value: 'value-x', expiresAt: 0, wall: 1, logical: 0, node: 'n0' }, -1), ids[42], 'the freed cell is the next one used')
})
