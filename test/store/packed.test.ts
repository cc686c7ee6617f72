import t from 'tap'
import fc from 'fast-check'
import { SMALL_VALUE_MAX } from '../../lib/store/bytes.js'
import { isLive, type Entry } from '../../lib/store/entry.js'
import { NodeTable, pack, packedIsLive, unpack } from '../../lib/store/packed.js'

const MAX_48 = 2 ** 48

const arbEntry = fc.record({
  value: fc.option(fc.uint8Array({ maxLength: SMALL_VALUE_MAX }).map(a => Buffer.from(a).toString('latin1')), { freq: 4 }),
  expiresAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: MAX_48 - 1 })),
  wall: fc.integer({ min: 0, max: MAX_48 - 1 }),
  logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  node: fc.constantFrom('n1', 'node-b', '', 'a-much-longer-node-id-0123456789')
})

t.test('property: an entry unpacks to what was packed, and packedIsLive agrees with isLive', async t => {
  const nodes = new NodeTable()
  fc.assert(fc.property(arbEntry, fc.integer({ min: -2, max: 2 }), (e: Entry, skew) => {
    const packed = pack(e, nodes)
    if (packed === undefined) return false
    const back = unpack(packed, nodes)
    const now = e.expiresAt === 0 ? e.wall : e.expiresAt + skew
    return back.value === e.value && back.expiresAt === e.expiresAt && back.wall === e.wall &&
      back.logical === e.logical && back.node === e.node && packedIsLive(packed, now) === isLive(e, now)
  }), { numRuns: 2000 })
  t.pass('2000 entries')
})

t.test('a Buffer value packs to the same bytes; what does not fit the layout is refused', async t => {
  const nodes = new NodeTable()
  const base = { expiresAt: 0, wall: 1_700_000_000_000, logical: 3, node: 'n1' }
  const bytes = Buffer.from([0, 1, 127, 128, 200, 255])
  t.equal(unpack(pack({ ...base, value: bytes }, nodes) ?? '', nodes).value, bytes.toString('latin1'))
  t.equal(unpack(pack({ ...base, value: Buffer.alloc(0) }, nodes) ?? '', nodes).value, '', 'an empty value is not a tombstone')
  t.equal(pack({ ...base, value: Buffer.alloc(SMALL_VALUE_MAX + 1) }, nodes), undefined, 'a larger value')
  t.equal(pack({ ...base, value: null, wall: MAX_48 }, nodes), undefined, 'a wall clock past 2^48')
  t.equal(pack({ ...base, value: null, logical: 2 ** 32 }, nodes), undefined, 'a logical counter past 2^32')
  t.equal(pack({ ...base, value: null, expiresAt: 1.5 }, nodes), undefined, 'an expiry that is not a whole number')
  t.equal(pack({ ...base, value: null, counter: { base: null, contribs: [], seen: [] } }, nodes), undefined, 'a counter')
  t.equal(pack({ ...base, value: Buffer.alloc(12).toString('latin1') }, nodes)?.length, 24, 'twelve header bytes, then the value')
})

t.test('the node table numbers 16,384 ids, then refuses', async t => {
  const nodes = new NodeTable()
  let numbered = 0
  for (let i = 0; i < 16384; i++) if (nodes.indexOf(`node-${i}`) === i) numbered++
  t.equal(numbered, 16384, 'each in turn')
  t.equal(nodes.indexOf('one-too-many'), -1)
  t.equal(nodes.indexOf('node-16383'), 16383, 'known ids keep their numbers')
  const last = pack({ value: 'v', expiresAt: 0, wall: 1, logical: 0, node: 'node-16383' }, nodes)
  t.equal(last === undefined ? undefined : unpack(last, nodes).node, 'node-16383', 'the highest number round-trips')
  t.equal(pack({ value: 'v', expiresAt: 0, wall: 1, logical: 0, node: 'one-too-many' }, nodes), undefined)
})
