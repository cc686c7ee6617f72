import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { waitConverged } from '../helpers/cluster.js'
import { ackedCount, type Checks, dataDiff, liveData, missing, moreWrites, roundMark, UniqueWriter, waitDigestsEqual, waitRounds } from '../helpers/converge.js'
import { FaultNet } from '../helpers/fault.js'
import { caller, connect, holdFor, waitFor, type Teardown } from '../helpers/server.js'

// CONTRACT G2 and G4 under network faults (PROTOCOL.md §Anti-entropy): three
// nodes behind proxies; links are cut, cut one way, or flap while every node
// takes writes of unique keys; once healed, every node holds the same data,
// within 3 s, with every acknowledged write in it.

function fullSyncsReceived (node: KeystoneNode): number {
  let n = 0
  for (const m of node.cluster.members.values()) n += m.fullSyncsReceived
  return n
}

async function writers (t: Teardown, nodes: readonly KeystoneNode[]): Promise<UniqueWriter[]> {
  const out: UniqueWriter[] = []
  for (let i = 0; i < nodes.length; i++) out.push(await UniqueWriter.connect(t, nodes[i] as KeystoneNode, `w${i}`))
  for (const w of out) w.start()
  return out
}

async function stopAll (ws: readonly UniqueWriter[]): Promise<void> {
  await Promise.all(ws.map(w => w.stop()))
}

/** After the heal: equal digests within `ms`, identical data, nothing acknowledged missing. */
async function checkConverged (t: Checks, nodes: readonly KeystoneNode[], ws: readonly UniqueWriter[], ms = 3000): Promise<void> {
  const took = await waitDigestsEqual(nodes, ms)
  t.ok(took <= ms, `equal digests ${took} ms after the heal`)
  const first = liveData(nodes[0] as KeystoneNode)
  for (const n of nodes.slice(1)) t.same(dataDiff(first, liveData(n)), [], `${n.cluster.advertise} holds the same data`)
  for (const n of nodes) t.same(missing(n, ws), [], `${n.cluster.advertise} reflects all ${ackedCount(ws)} acknowledged writes`)
}

t.test('isolate one node of three, write on both sides, heal: identical data within 3 s, no acknowledged write lost', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const ws = await writers(t, nodes)
  await moreWrites(ws, [], 50, 'writes at every node before the cut')
  net.isolate(2)
  await waitFor(() => nodes[0]?.cluster.members.get(net.nodes[2]?.proxy.addr ?? '')?.link.status === 'down', 3000, 'C down at A')
  const cut = ws.map(w => w.acked.size)
  await moreWrites(ws, cut, 50, 'writes on both sides of the cut')
  await stopAll(ws)
  const fullBefore = (nodes[2] as KeystoneNode).cluster.members.size === 2 ? fullSyncsReceived(nodes[2] as KeystoneNode) : -1
  const atC = (ws[2]?.acked.size ?? 0) - (cut[2] ?? 0)
  t.ok(atC > 20, `C took writes while cut off (${atC})`)
  t.not(nodes[0]?.store.digest.rootHex(), nodes[2]?.store.digest.rootHex(), 'the sides differ')
  net.heal()
  await checkConverged(t, nodes, ws)
  // One end of each healed link runs the round (the larger id waits for it): count both.
  const info = await Promise.all(nodes.map(async n => await caller(await connect(t, n))('INFO', 'replication') as string))
  const incremental = info.reduce((sum, text) => sum + Number(/^incremental_syncs:(\d+)/m.exec(text)?.[1] ?? 0), 0)
  t.ok(incremental >= 1, `C caught up by incremental syncs (${incremental} in the cluster)`)
  t.equal(fullSyncsReceived(nodes[2] as KeystoneNode), fullBefore, 'and no full sync: only what differed')
})

/** Three nodes, a writer at each; `fault` runs under the writes, then all heals and must converge. */
async function faultUnderWrites (t: Checks, fault: (net: FaultNet) => Promise<void>): Promise<void> {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const ws = await writers(t, nodes)
  await fault(net)
  await stopAll(ws)
  net.heal()
  await checkConverged(t, nodes, ws)
}

t.test('a one-way cut (A hears nothing from C, C hears A): both sides catch up once it heals', async t => {
  await faultUnderWrites(t, async net => {
    net.cutOneWay(2, 0)
    // Each side stops hearing the other (C's requests, and its replies, to A are held).
    const [a, , c] = net.live as [KeystoneNode, KeystoneNode, KeystoneNode]
    await seesDown(a, c)
    await seesDown(c, a)
  })
})

t.test('a link that flaps every 250 ms under writes: converged once it stops', async t => {
  await faultUnderWrites(t, async net => {
    for (let i = 0; i < 12; i++) {
      if (i % 2 === 0) net.cut(0, 1)
      else net.heal()
      if (i % 4 === 3) net.reset(1)
      await holdFor(250, 'pacing: the link flaps every 250 ms')
    }
  })
})

t.test('a delete made while a node is cut off does not come back, before or after tombstones are collected', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
  const atA = caller(await connect(t, a))
  const args = ['MSET']
  for (let i = 0; i < 50; i++) args.push(`doomed:${i}`, 'v')
  t.equal(await atA(...args), 'OK')
  t.equal(c.store.get('doomed:7')?.value?.toString(), 'v', 'C holds the keys')
  net.isolate(2)
  await waitFor(() => a.cluster.state(a.cluster.members.get(net.nodes[2]?.proxy.addr ?? '') ?? [...a.cluster.members.values()][0]!) === 'down', 3000, 'C down at A')
  t.equal(await atA('DEL', ...args.filter((_, i) => i % 2 === 1)), 50, 'deleted while C is cut off')
  await waitFor(() => b.store.tombstones === 50, 3000, 'B to hold the tombstones: only C lacks them')
  await holdFor(600, 'negative check: collection ticks (200 ms) in which A must not collect')
  t.equal(a.store.tombstones, 50, 'A keeps the tombstones: C has not seen them')
  net.heal()
  await waitDigestsEqual(nodes, 3000)
  t.equal(c.store.get('doomed:7'), undefined, 'C took the delete')
  await waitFor(() => nodes.every(n => n.store.tombstones === 0), 3000, 'every node to collect the tombstones')
  t.pass('collected everywhere once every member held them')
  await waitRounds(roundMark(nodes), 2, 8000) // a value that could come back would be back by now
  for (const n of nodes) t.equal(n.store.get('doomed:7'), undefined, `${n.cluster.advertise}: still deleted`)
  await waitDigestsEqual(nodes, 3000)
})

/** Waits until `from` sees the link to `to` down (so nothing more it sends is on its way). */
async function seesDown (from: KeystoneNode, to: KeystoneNode): Promise<void> {
  await waitFor(() => from.cluster.members.get(to.cluster.advertise)?.link.status !== 'ready', 4000, `${from.cluster.advertise} to see ${to.cluster.advertise} down`)
}

t.test('a writer that is gone (restarted empty under a new id): the others collect its tombstones once rounds cover every member', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 200 })
  const nodes = await net.start(3)
  const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
  const atC = caller(await connect(t, c))
  t.equal(await atC('MSET', 'doomed', 'v', 'kept', 'w'), 'OK')
  // C's delete reaches A and B, but C is cut off before its STABLE can say every member holds it.
  net.isolate(2)
  await seesDown(a, c)
  await seesDown(b, c)
  net.heal()
  await waitConverged(nodes)
  const cut = c.nodeId
  t.equal(await atC('DEL', 'doomed'), 1)
  net.isolate(2)
  await seesDown(a, c)
  t.equal(a.store.peek('doomed')?.node, cut, 'A holds the tombstone C wrote')
  await c.close() // C dies cut off, before its STABLE can cover the delete...
  net.heal()
  const fresh = await net.restart(2, 0) // ...and its disk is lost: a new node at its address, a new id
  t.not(fresh.nodeId, cut)
  await waitFor(() => [a, b, fresh].every(n => n.store.tombstones === 0), 8000, 'every node to collect the gone writer\'s tombstone')
  await waitDigestsEqual([a, b, fresh], 3000)
  for (const n of [a, b, fresh]) {
    t.equal(n.store.get('doomed'), undefined, `${n.cluster.advertise}: still deleted`)
    t.equal(n.store.get('kept')?.value?.toString(), 'w')
  }
})

t.test('bounded tombstones under delete-heavy load: collected as fast as they come', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const client = caller(await connect(t, nodes[0] as KeystoneNode))
  let most = 0
  const watch = setInterval(() => { for (const n of nodes) most = Math.max(most, n.store.tombstones) }, 20)
  t.teardown(() => clearInterval(watch))
  // About 15,000 deletes a second for two seconds: without collection every one would stay.
  const rounds = 60
  for (let r = 0; r < rounds; r++) {
    const set = ['MSET']
    const del = ['DEL']
    for (let i = 0; i < 500; i++) {
      set.push(`churn:${r}:${i}`, 'x')
      del.push(`churn:${r}:${i}`)
    }
    await client(...set)
    await client(...del)
    await holdFor(20, 'pacing: about 15,000 deletes a second')
  }
  await waitFor(() => nodes.every(n => n.store.tombstones === 0 && n.store.tombstoneLog.queued === 0), 3000, 'all tombstones collected')
  clearInterval(watch)
  t.ok(most < (rounds * 500) / 2, `at most ${most} tombstones held at once for ${rounds * 500} deletes (collected while the load ran)`)
  t.equal(nodes.reduce((s, n) => s + n.store.stats.tombstonesCollected, 0), rounds * 500 * 3, 'each node collected every one')
  await waitDigestsEqual(nodes, 3000)
  await waitConverged(nodes)
})
