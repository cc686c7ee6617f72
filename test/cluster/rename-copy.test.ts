import t from 'tap'
import { startCluster } from '../helpers/cluster.js'
import { caller, connect } from '../helpers/server.js'

// RENAME and COPY replicate as the writes they make: the destination set with
// the source's value and expiry, and (RENAME) the source deleted. Each reply
// waits for every ready peer (PROTOCOL.md §Acknowledgement), so the other
// node answers with the result at once.

t.test('RENAME, RENAMENX and COPY results are read at the other node', async t => {
  const nodes = await startCluster(t, 2)
  const [a, b] = await Promise.all(nodes.map(async n => caller(await connect(t, n))))
  if (a === undefined || b === undefined) throw new Error('two nodes')

  t.equal(await a('SET', 'src', 'value', 'EX', '100'), 'OK')
  t.equal(await a('RENAME', 'src', 'dst'), 'OK')
  t.same(await b('MGET', 'src', 'dst'), [null, 'value'], 'the source is gone and the destination holds the value at B')
  t.equal(await b('TTL', 'dst'), 100, 'with its expiry')

  t.equal(await b('SET', 'other', 'x'), 'OK')
  t.equal(await b('RENAMENX', 'dst', 'other'), 0)
  t.equal(await b('RENAMENX', 'dst', 'moved'), 1)
  t.same(await a('MGET', 'dst', 'other', 'moved'), [null, 'x', 'value'], 'RENAMENX at B is seen at A')

  t.equal(await a('COPY', 'moved', 'copy'), 1)
  t.same(await b('MGET', 'moved', 'copy'), ['value', 'value'], 'COPY at A is seen at B, the source kept')
  t.equal(await b('TTL', 'copy'), 100, 'the copy has the expiry too')
  t.equal(await a('SET', 'moved', 'new'), 'OK')
  t.equal(await a('COPY', 'moved', 'copy', 'REPLACE'), 1)
  t.equal(await b('GET', 'copy'), 'new')
  t.equal(await b('TTL', 'copy'), -1, 'REPLACE copies the source without expiry')

  t.equal(await b('RENAME', 'copy', 'other'), 'OK', 'RENAME over an existing key at B')
  t.same(await a('MGET', 'copy', 'other'), [null, 'new'])
  t.equal(await a('DBSIZE'), await b('DBSIZE'), 'both hold the same keys')
})
