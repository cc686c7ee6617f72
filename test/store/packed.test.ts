import t from 'tap'
import fc from 'fast-check'
import { SMALL_VALUE_MAX } from '../../lib/store/bytes.js'
import { NodeTable, packParts, packedLogical, packedNode, packedValue, packedWall } from '../../lib/store/packed.js'

const MAX_48 = 2 ** 48

t.test('property: a packed field reads back the value and version it was packed from', async t => {
  const nodes = new NodeTable()
  const arbField = fc.record({
    value: fc.uint8Array({ maxLength: SMALL_VALUE_MAX }).map(a => Buffer.from(a)),
    wall: fc.integer({ min: 0, max: MAX_48 - 1 }),
    logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    node: fc.constantFrom('n1', 'node-b', '', 'a-much-longer-node-id-0123456789')
  })
  fc.assert(fc.property(arbField, f => {
    const packed = packParts(f.value, f.wall, f.logical, f.node, nodes)
    if (packed === undefined) return false
    return packedValue(packed) === f.value.toString('latin1') && packedWall(packed) === f.wall &&
      packedLogical(packed) === f.logical && packedNode(packed, nodes) === f.node
  }), { numRuns: 2000 })
  t.pass('2000 fields')
})

t.test('what does not fit the layout is refused', async t => {
  const nodes = new NodeTable()
  t.equal(packParts(Buffer.alloc(SMALL_VALUE_MAX + 1), 1, 0, 'n1', nodes), undefined, 'a larger value')
  t.equal(packParts('v', MAX_48, 0, 'n1', nodes), undefined, 'a wall clock past 2^48')
  t.equal(packParts('v', 1.5, 0, 'n1', nodes), undefined, 'a wall clock that is not a whole number')
  t.equal(packParts('v', 1, 2 ** 32, 'n1', nodes), undefined, 'a logical counter past 2^32')
  t.equal(packParts('x'.repeat(12), 1, 0, 'n1', nodes)?.length, 24, 'twelve header bytes, then the value')
})

t.test('the node table numbers 16,384 ids, then refuses', async t => {
  const nodes = new NodeTable()
  let numbered = 0
  for (let i = 0; i < 16384; i++) if (nodes.indexOf(`node-${i}`) === i) numbered++
  t.equal(numbered, 16384, 'each in turn')
  t.equal(nodes.indexOf('one-too-many'), -1)
  t.equal(nodes.indexOf('node-16383'), 16383, 'known ids keep their numbers')
  const last = packParts('v', 1, 0, 'node-16383', nodes)
  t.equal(last === undefined ? undefined : packedNode(last, nodes), 'node-16383', 'the highest number round-trips')
  t.equal(packParts('v', 1, 0, 'one-too-many', nodes), undefined)
})
