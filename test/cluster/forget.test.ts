import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { memberStates, startCluster, waitConverged } from '../helpers/cluster.js'
import { digestsEqual, liveData } from '../helpers/converge.js'
import { FaultNet } from '../helpers/fault.js'
import { caller, connect, startNode, waitFor } from '../helpers/server.js'

// PROTOCOL.md §Member removal: FORGET removes a member for good; every member
// hears of it; the removed node is told, leaves, and serves its own data alone.
// --member-timeout removes a member down too long, on the majority side only.

const addrs = (node: KeystoneNode): string[] => [...node.cluster.members.keys()]

t.test('FORGET: what it refuses', async t => {
  const [a, b] = await startCluster(t, 2) as [KeystoneNode, KeystoneNode]
  const call = caller(await connect(t, a))
  t.match(String(await call('FORGET', a.cluster.advertise)), /^ERR a node cannot FORGET itself/)
  t.match(String(await call('FORGET', a.nodeId)), /^ERR a node cannot FORGET itself/)
  t.match(String(await call('FORGET', '127.0.0.1:1')), /^ERR no such member: 127.0.0.1:1/)
  t.match(String(await call('FORGET', 'not an id!')), /^ERR invalid node id/)
  t.match(String(await call('FORGET')), /^ERR wrong number of arguments for 'forget'/)
  t.same(addrs(a), [b.cluster.advertise], 'nothing removed')
  // A client is no peer: it cannot tell a node it was removed.
  const atB = caller(await connect(t, b))
  t.match(String(await atB('FORGET', b.nodeId)), /^ERR a node cannot FORGET itself/)
})

t.test('FORGET of a live member: every member drops it, it leaves and serves alone', async t => {
  const [a, b, c] = await startCluster(t, 3) as [KeystoneNode, KeystoneNode, KeystoneNode]
  const atA = caller(await connect(t, a))
  const atC = caller(await connect(t, c))
  t.equal(await atA('SET', 'shared', '1'), 'OK')
  await waitFor(() => c.store.get('shared') !== undefined, 5000, 'the write at C')
  t.equal(await atA('FORGET', c.cluster.advertise), 'OK')
  await waitFor(() => !addrs(b).includes(c.cluster.advertise), 5000, 'B to drop C')
  t.same(addrs(a), [b.cluster.advertise], 'A lists only B')
  await waitFor(() => c.cluster.removedReason !== null, 5000, 'C to be told')
  t.same(addrs(c), [], 'C has left: it knows no member')
  t.same([...(await memberStates(await connect(t, c))).keys()], [c.cluster.advertise], 'MEMBERS at C lists only itself')
  t.equal(await atC('GET', 'shared'), '1', 'C keeps its data')
  t.equal(await atC('SET', 'alone', 'x'), 'OK', 'and takes writes, alone')
  t.equal(await atA('SET', 'after', '2'), 'OK', 'A and B carry on')
  await waitFor(() => b.store.get('after') !== undefined, 5000, 'the write at B')
  await waitFor(() => digestsEqual([a, b]), 5000, 'A and B to converge')
  t.equal(a.store.get('alone'), undefined, 'nothing written at C reaches A')
  t.equal(c.store.get('after'), undefined, 'nothing written at A reaches C')
  // The retired id is refused on peer paths.
  const raw = caller(await connect(t, a))
  t.match(String(await raw('GOSSIP', c.cluster.advertise, c.nodeId, 'up')), /^REMOVED node [0-9a-f]+ was removed from the cluster/)
  t.match(String(await raw('JOIN', c.cluster.advertise, c.nodeId)), /^REMOVED /)
  // And C, having left, refuses to be a peer of anyone.
  t.match(String(await atC('GOSSIP', a.cluster.advertise, a.nodeId, 'up')), /^LEFT node [0-9a-f]+ was removed/)
  t.match(String(await atA('INFO', 'replication')), /removed_members:1/)
  t.match(String(await atC('INFO', 'replication')), /removed_from_cluster:yes/)
})

t.test('JOIN tells a newcomer the removed ids: it refuses them before it takes any peer', async t => {
  const [a, b] = await startCluster(t, 2) as [KeystoneNode, KeystoneNode]
  const atA = caller(await connect(t, a))
  const gone = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00'
  t.equal(await atA('FORGET', gone), 'OK')
  await waitFor(() => b.cluster.retired.has(gone), 5000, 'B to hear of the removal')
  // The JOIN reply: the members, then one array of the removed ids.
  const fake = await startNode(t)
  const reply = await caller(await connect(t, b))('JOIN', fake.cluster.advertise) as unknown[]
  t.same(reply.at(-1), [gone], 'the removed ids follow the members')
  t.ok(reply.slice(0, -1).every(x => typeof x === 'string'), 'the members as before')
  // A newcomer retires them as its JOIN is answered, before any GOSSIP.
  const d = await startNode(t, { join: a.cluster.advertise })
  t.ok(d.cluster.retired.has(gone), 'the newcomer refuses the removed id')
  const atD = caller(await connect(t, d))
  t.match(String(await atD('GOSSIP', '127.0.0.1:1', gone, 'up')), /^REMOVED node c0ffee00/)
})

t.test('FORGET by node id of a member that is down; a second FORGET is a no-op', async t => {
  const [a, b, c] = await startCluster(t, 3) as [KeystoneNode, KeystoneNode, KeystoneNode]
  const id = c.nodeId
  await c.close()
  const watch = await connect(t, a)
  await waitFor(async () => (await memberStates(watch)).get(c.cluster.advertise) === 'down', 5000, 'C down at A')
  const atB = caller(await connect(t, b))
  t.equal(await atB('FORGET', id), 'OK')
  await waitFor(() => addrs(a).length === 1 && addrs(b).length === 1, 5000, 'both to drop C')
  t.equal(await atB('FORGET', id), 'OK', 'again: nothing to do')
  t.equal(await atB('FORGET', c.cluster.advertise), 'OK', 'by its old address too')
})

t.test('--member-timeout: the majority side removes the minority; healed, the minority leaves and brings nothing back', async t => {
  const net = new FaultNet(t, { memberTimeout: 1, tombstoneGraceMs: 200 })
  const [a, b, c] = await net.start(3) as [KeystoneNode, KeystoneNode, KeystoneNode]
  const atA = caller(await connect(t, a))
  const atC = caller(await connect(t, c))
  t.equal(await atA('SET', 'doomed', 'old'), 'OK')
  await waitFor(() => c.store.get('doomed') !== undefined, 5000, 'the write at C')
  net.isolate(2)
  t.equal(await atA('DEL', 'doomed'), 1, 'deleted on the majority side')
  t.equal(await atC('SET', 'minority', 'w'), 'OK', 'written on the minority side')
  await waitFor(() => addrs(a).length === 1 && addrs(b).length === 1, 10_000, 'A and B to remove C')
  t.equal(addrs(c).length, 2, 'C, alone, removes nobody: it has no majority')
  // The tombstone goes once C no longer holds it back.
  await waitFor(() => a.store.tombstones === 0 && b.store.tombstones === 0, 5000, 'the backlog to drain at A and B')
  net.heal()
  await waitFor(() => c.cluster.removedReason !== null, 10_000, 'C to learn it was removed')
  t.same(addrs(c), [], 'C left the cluster')
  t.equal(await atC('GET', 'minority'), 'w', 'C keeps its own data')
  await waitConverged([a, b])
  t.equal(a.store.get('doomed'), undefined, 'the delete holds at A: nothing came back')
  t.equal(b.store.get('doomed'), undefined, 'and at B')
  t.equal(a.store.get('minority'), undefined, 'what only the removed node held stays out')
  t.same(liveData(a), liveData(b))
})
