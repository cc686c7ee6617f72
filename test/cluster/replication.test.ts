import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { startCluster, waitConverged } from '../helpers/cluster.js'
import { caller, connect, startNode, waitFor, type Teardown } from '../helpers/server.js'

type Call = (...args: Array<string | Buffer>) => Promise<unknown>

async function callers (t: Teardown, nodes: KeystoneNode[]): Promise<Call[]> {
  return Promise.all(nodes.map(async n => caller(await connect(t, n))))
}

t.test('G1: once SET or DEL returns at one node, every node answers with it', async t => {
  const nodes = await startCluster(t, 3)
  const at = await callers(t, nodes)
  for (let i = 0; i < 60; i++) {
    const w = i % 3
    t.equal(await (at[w] as Call)('SET', `rw:${i % 7}`, `v${i}`), 'OK')
    for (let r = 0; r < 3; r++) {
      if (r !== w) t.equal(await (at[r] as Call)('GET', `rw:${i % 7}`), `v${i}`, `node ${r} right after SET at node ${w}`)
    }
  }
  t.equal(await (at[1] as Call)('DEL', 'rw:0'), 1)
  t.equal(await (at[0] as Call)('GET', 'rw:0'), null, 'DEL is seen at once too')
  t.equal(await (at[2] as Call)('EXISTS', 'rw:0'), 0)
})

t.test('read-your-writes across nodes under concurrent writers', async t => {
  const nodes = await startCluster(t, 3)
  const writers = 6
  let checked = 0
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    const mine = await callers(t, nodes)
    for (let i = 0; i < 40; i++) {
      const at = (w + i) % 3
      const key = `cw:${w}:${i % 5}`
      if (await (mine[at] as Call)('SET', key, `${w}-${i}`) !== 'OK') throw new Error('SET failed')
      for (let r = 0; r < 3; r++) {
        const got = await (mine[r] as Call)('GET', key)
        if (got !== `${w}-${i}`) throw new Error(`writer ${w}: ${key} at node ${r} is ${String(got)} right after SET at node ${at}`)
        checked++
      }
    }
  }))
  t.equal(checked, writers * 40 * 3, 'every read saw the write before it')
})

t.test('expiry, PERSIST and FLUSHALL replicate', async t => {
  const nodes = await startCluster(t, 2)
  const [a, b] = await callers(t, nodes) as [Call, Call]
  t.equal(await a('SET', 'e', 'v', 'PX', '300'), 'OK')
  const pttl = await b('PTTL', 'e') as number
  t.ok(pttl > 0 && pttl <= 300, `PTTL at the other node: ${pttl}`)
  await waitFor(async () => (await b('GET', 'e')) === null, 3000, 'the key to expire at the other node')
  t.equal(await a('SET', 'p', 'v', 'EX', '100'), 'OK')
  t.equal(await b('PERSIST', 'p'), 1)
  t.equal(await a('TTL', 'p'), -1, 'PERSIST at B is seen at A')
  t.equal(await a('FLUSHALL'), 'OK')
  t.equal(await b('DBSIZE'), 0, 'FLUSHALL reaches every node')
})

t.test('WAIT counts the peers holding every write so far', async t => {
  const nodes = await startCluster(t, 3)
  const [a] = await callers(t, nodes) as [Call]
  t.equal(await a('SET', 'w', '1'), 'OK')
  t.equal(await a('WAIT', '2', '1000'), 2)
  t.equal(await a('WAIT', '0', '0'), 2, 'WAIT 0 answers at once')
  const started = Date.now()
  t.equal(await a('WAIT', '3', '200'), 2, 'more peers than there are: the count after the timeout')
  t.ok(Date.now() - started >= 190, 'after waiting the timeout')
  t.match(String(await a('WAIT', '1', '-1')), /^ERR timeout is negative/)
})

t.test('a node joining while writes run ends up with every acknowledged write (G5)', async t => {
  const [a, b] = await startCluster(t, 2)
  const writerA = caller(await connect(t, a as KeystoneNode))
  const writerB = caller(await connect(t, b as KeystoneNode))
  let stop = false
  const acked: string[] = []
  const write = async (call: Call, tag: string): Promise<void> => {
    for (let i = 0; !stop; i++) {
      if (await call('SET', `${tag}:${i}`, 'x') === 'OK') acked.push(`${tag}:${i}`)
    }
  }
  const writing = Promise.all([write(writerA, 'a'), write(writerB, 'b')])
  await waitFor(() => acked.length > 200, 5000, 'some writes')
  const c = await startNode(t, { join: (b as KeystoneNode).cluster.advertise })
  await waitConverged([a as KeystoneNode, b as KeystoneNode, c])
  await waitFor(() => acked.length > 600, 5000, 'more writes after the join')
  stop = true
  await writing
  const atC = caller(await connect(t, c))
  await waitFor(async () => (await atC('DBSIZE')) === acked.length, 5000, `the newcomer to hold all ${acked.length} keys`)
  const missing: string[] = []
  for (const key of acked) if ((await atC('GET', key)) !== 'x') missing.push(key)
  t.same(missing, [], 'no acknowledged write missing at the newcomer')
})

t.test('INFO replication describes the node and each member', async t => {
  const nodes = await startCluster(t, 2)
  const [a] = await callers(t, nodes) as [Call]
  t.equal(await a('SET', 'k', 'v'), 'OK')
  const info = String(await a('INFO', 'replication'))
  t.match(info, /# Replication/)
  t.match(info, new RegExp(`node_id:${(nodes[0] as KeystoneNode).nodeId}`))
  t.match(info, /member0:addr=127\.0\.0\.1:\d+,id=[0-9a-f]+,state=up,link=ready,last_heartbeat_ms=\d+,writes_sent=\d+/)
  t.match(info, /full_syncs_served:\d+/)
})
