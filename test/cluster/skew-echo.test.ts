import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { startCluster } from '../helpers/cluster.js'
import { roundMark, waitDigestsEqual, waitRounds } from '../helpers/converge.js'
import { FaultNet } from '../helpers/fault.js'
import { caller, connect, waitFor } from '../helpers/server.js'

// PROTOCOL.md §Versions under clock skew (the test-only --clock-offset-ms), and
// §Replication's promise that a write travels once to each peer: no echo.

for (const aheadMs of [5_000, 120_000]) {
  t.test(`a node whose clock runs ${aheadMs / 1000} s ahead cannot make its older writes win over causally later ones`, async t => {
    const net = new FaultNet(t)
    const nodes = await net.start(3, i => (i === 2 ? { clockOffsetMs: aheadMs } : {}))
    const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
    const atA = caller(await connect(t, a))
    const atC = caller(await connect(t, c))
    t.equal(await atC('SET', 'k', 'from-fast-clock'), 'OK')
    t.ok((c.store.peek('k')?.wall ?? 0) > Date.now() + aheadMs - 2000, 'stamped ahead')
    t.equal(await atA('GET', 'k'), 'from-fast-clock', 'A has it (G1)')
    t.equal(await atA('SET', 'k', 'later'), 'OK', 'a write made after it, at a node with a right clock')
    await waitDigestsEqual(nodes, 3000)
    for (const n of nodes) t.equal(n.store.get('k')?.value?.toString(), 'later', `${n.cluster.advertise}: the later write wins`)
    // The same across a partition: C's write reached A before A's write, which must win when C is back.
    t.equal(await atC('SET', 'p', 'early'), 'OK')
    net.isolate(2)
    t.equal(await atA('SET', 'p', 'after'), 'OK')
    t.equal(await atC('SET', 'q', 'while-cut'), 'OK', 'C keeps taking writes')
    net.heal()
    await waitDigestsEqual(nodes, 3000)
    for (const n of [a, b, c]) {
      t.equal(n.store.get('p')?.value?.toString(), 'after', `${n.cluster.advertise}: still the causally later write`)
      t.equal(n.store.get('q')?.value?.toString(), 'while-cut')
    }
  })
}

t.test('no echo: one client write reaches each of 4 peers once, and nothing follows', async t => {
  const nodes = await startCluster(t, 5)
  await waitDigestsEqual(nodes, 3000)
  const received = (): number => nodes.reduce((sum, n) => {
    for (const m of n.cluster.members.values()) sum += m.writesReceived
    return sum
  }, 0)
  const syncKeys = (): number => nodes.reduce((sum, n) => {
    for (const m of n.cluster.members.values()) sum += n.cluster.convergence.peer(m).sync.keysSent + n.cluster.convergence.peer(m).sync.keysReceived
    return sum
  }, 0)
  const busy = (): boolean => nodes.some(n => [...n.cluster.members.values()].some(m => n.cluster.convergence.peer(m).rounding || m.pushing !== null))
  await waitFor(() => !busy(), 5000, 'no sync or round running: a quiet start')
  const before = received()
  const syncBefore = syncKeys()
  t.equal(await caller(await connect(t, nodes[0] as KeystoneNode))('SET', 'one', 'write'), 'OK')
  await waitFor(() => nodes.every(n => n.store.get('one') !== undefined), 1000, 'every node to hold it')
  await waitRounds(roundMark(nodes), 2, 8000) // two whole anti-entropy rounds on every link
  const messages = received() - before
  t.ok(messages >= 4 && messages <= 8, `peers received the entry ${messages} times (4: once each)`)
  t.ok(syncKeys() - syncBefore <= 8, `anti-entropy moved ${syncKeys() - syncBefore} keys`)
  const settled = received()
  await waitRounds(roundMark(nodes), 1, 5000) // and one more, in which nothing may travel
  t.equal(received(), settled, 'then nothing more travels')
})
