import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { startCluster, waitConverged } from '../helpers/cluster.js'
import { caller, connect, plain, startNode, waitFor } from '../helpers/server.js'

t.test('three nodes form a cluster; MEMBERS lists each, itself marked self', async t => {
  const nodes = await startCluster(t, 3)
  for (const node of nodes) {
    const members = plain(await (await connect(t, node)).call(['MEMBERS'])) as string[]
    t.equal(members.length, 3)
    const table = new Map(members.map(line => {
      const [addr, state, ...rest] = line.split(' ')
      return [addr, { state, self: rest.includes('self') }]
    }))
    for (const other of nodes) t.equal(table.get(other.cluster.advertise)?.state, 'up', `${other.cluster.advertise} up at ${node.cluster.advertise}`)
    t.equal(table.get(node.cluster.advertise)?.self, true, 'itself marked self')
  }
})

t.test('a node joining via any member gets the data and every member learns of it', async t => {
  const [a, b] = await startCluster(t, 2)
  const atA = caller(await connect(t, a as KeystoneNode))
  for (let i = 0; i < 200; i++) t.equal(await atA('SET', `k${i}`, `v${i}`), 'OK')
  const c = await startNode(t, { join: (b as KeystoneNode).cluster.advertise })
  await waitConverged([a as KeystoneNode, b as KeystoneNode, c])
  const atC = caller(await connect(t, c))
  await waitFor(async () => (await atC('DBSIZE')) === 200, 5000, 'C to have all 200 keys')
  t.equal(await atC('GET', 'k199'), 'v199')
  t.equal(await atC('SET', 'from-c', 'x'), 'OK')
  t.equal(await atA('GET', 'from-c'), 'x', 'a write at the newcomer reaches the others before OK')
})

t.test('JOIN sent by hand merges two clusters, data included', async t => {
  const [x1, x2] = await startCluster(t, 2)
  const y = await startNode(t)
  const atX1 = caller(await connect(t, x1 as KeystoneNode))
  const atY = caller(await connect(t, y))
  t.equal(await atX1('SET', 'from-x', '1'), 'OK')
  t.equal(await atY('SET', 'from-y', '2'), 'OK')
  const reply = await atY('JOIN', (x1 as KeystoneNode).cluster.advertise)
  t.ok(Array.isArray(reply), 'JOIN answers with the member list')
  const all = [x1 as KeystoneNode, x2 as KeystoneNode, y]
  await waitConverged(all)
  const atX2 = caller(await connect(t, x2 as KeystoneNode))
  await waitFor(async () => (await atX2('GET', 'from-y')) === '2' && (await atY('GET', 'from-x')) === '1', 5000, 'both sides to have both keys')
  t.pass('merged')
})

t.test('JOIN checks its argument', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.match(String(await call('JOIN', 'nonsense')), /^ERR invalid address/)
  t.match(String(await call('JOIN', node.cluster.advertise)), /^ERR a node cannot join itself/)
})

t.test('a node with the wrong password cannot join, and says why', async t => {
  const seed = await startNode(t, { requirepass: 'right' })
  const stranger = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', requirepass: 'wrong', join: seed.cluster.advertise }, { log: silentLogger })
  t.teardown(() => stranger.close())
  await t.rejects(stranger.start(), /cannot join .*refused our password/)
  t.equal(seed.cluster.members.size, 0, 'the seed did not admit it')
})

t.test('nodes with the same password form a cluster', async t => {
  const nodes = await startCluster(t, 3, { requirepass: 'shared' })
  const c = await connect(t, nodes[2] as KeystoneNode)
  const call = caller(c)
  t.equal(await call('AUTH', 'shared'), 'OK')
  t.equal(await call('SET', 'k', 'v'), 'OK')
  const a = caller(await connect(t, nodes[0] as KeystoneNode))
  t.equal(await a('AUTH', 'shared'), 'OK')
  t.equal(await a('GET', 'k'), 'v')
})

t.test('peer links are dialled from --host when it is a specific IP', async t => {
  const a = await startNode(t, { host: '127.0.0.21' })
  const b = await startNode(t, { host: '127.0.0.22', join: a.cluster.advertise })
  await waitConverged([a, b])
  const clients = String(await caller(await connect(t, b))('CLIENT', 'LIST'))
  t.match(clients, /addr=127\.0\.0\.21:\d+ .*peer=1/, 'B sees A\'s link coming from 127.0.0.21')
})
