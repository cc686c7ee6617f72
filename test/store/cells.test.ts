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

t.test('property: a cell reads back what was stored, written anew or over any other entry, and isLive agrees', async t => {
  const cells = new Cells(new NodeTable())
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(20), arbEntry), { minLength: 1, maxLength: 60 }), fc.integer({ min: -2, max: 2 }), (writes, skew) => {
    // Twenty keys, each written over and over: cells reused in place, moved between classes, released.
    const held = new Map<number, { id: number, entry: Entry }>()
    for (const [key, entry] of writes) {
      const id = cells.store(entry, held.get(key)?.id ?? -1)
      if (id < 0) return false
      held.set(key, { id, entry })
    }
    for (const { id, entry } of held.values()) {
      const back = cells.read(id)
      const now = entry.expiresAt === 0 ? entry.wall : entry.expiresAt + skew
      if (back.value !== latin1(entry.value) || back.expiresAt !== entry.expiresAt || back.wall !== entry.wall ||
        back.logical !== entry.logical || back.node !== entry.node || cells.isLive(id, now) !== isLive(entry, now)) return false
    }
    const ids = [...held.values()].map(h => h.id)
    const distinct = new Set(ids).size === ids.length && cells.live === ids.length
    for (const id of ids) cells.release(id)
    return distinct && cells.live === 0
  }), { numRuns: 1000 })
  t.pass('1000 histories: every cell distinct, every one given back')
})

t.test('a value of the same size class is written in place; another size moves it, and what does not fit is refused', async t => {
  const cells = new Cells(new NodeTable())
  const base = { expiresAt: 0, wall: 1_700_000_000_000, logical: 3, node: 'n1' }
  const id = cells.store({ ...base, value: 'abc' }, -1)
  t.equal(cells.store({ ...base, value: 'abcdefgh' }, id), id, 'up to 8 bytes: the same cell')
  t.equal(cells.read(id).value, 'abcdefgh')
  const moved = cells.store({ ...base, value: 'abcdefghi' }, id)
  t.not(moved, id, 'nine bytes: a cell with more room')
  t.equal(cells.live, 1, 'the old one given back')
  t.equal(cells.store({ ...base, value: Buffer.alloc(0) }, -1) >= 0, true)
  t.equal(cells.read(cells.store({ ...base, value: '' }, -1)).value, '', 'an empty value is not a tombstone')
  t.equal(cells.read(cells.store({ ...base, value: null }, -1)).value, null, 'a tombstone')
  const live = cells.live
  t.equal(cells.store({ ...base, value: Buffer.alloc(SMALL_VALUE_MAX + 1) }, moved), -1, 'a larger value')
  t.equal(cells.live, live - 1, 'is refused, and the cell it would have replaced given back')
  t.equal(cells.store({ ...base, value: null, logical: 2 ** 32 }, -1), -1, 'a logical counter past 2^32')
  t.equal(cells.store({ ...base, value: null, counter: { base: null, contribs: [], seen: [] } }, -1), -1, 'a counter')
  t.equal(cells.store({ ...base, value: null, hash: newHash() }, -1), -1, 'a hash')
})

t.test('many cells: chunks are added as a class fills, and freed cells are reused first', async t => {
  const cells = new Cells(new NodeTable())
  const ids: number[] = []
  for (let i = 0; i < 5000; i++) ids.push(cells.store({ value: `value-${i}`, expiresAt: 0, wall: i, logical: i, node: `n${i % 3}` }, -1))
  t.equal(new Set(ids).size, 5000)
  let intact = 0
  for (let i = 0; i < 5000; i++) if (cells.read(ids[i] as number).value === `value-${i}` && cells.read(ids[i] as number).wall === i) intact++
  t.equal(intact, 5000, 'across chunks, every cell intact')
  cells.release(ids[42] as number)
  t.equal(cells.store({ value: 'value-x', expiresAt: 0, wall: 1, logical: 0, node: 'n0' }, -1), ids[42], 'the freed cell is the next one used')
})
