import t from 'tap'
import type { RespClient } from '../../lib/client/resp-client.js'
import { bucketOf, BUCKETS } from '../../lib/store/store.js'
import { memberStates, startFakePeer } from '../helpers/cluster.js'
import { caller, connect, startNode, waitFor } from '../helpers/server.js'

// PROTOCOL.md §State transfer and §Replication: while a node sends its whole
// state to a newcomer, MEMBERS says so at both ends, and a write made before
// the newcomer's link came up is acknowledged only once the transfer carrying
// it is done (G1).

const KEYS = 100_000

/** Puts `count` keys `fill:<i>` on a node, as MSETs of 1000 keys, pipelined. */
async function fill (client: RespClient, count: number): Promise<void> {
  const sends: Array<Promise<unknown>> = []
  for (let from = 0; from < count; from += 1000) {
    const args = ['MSET']
    for (let i = from; i < Math.min(count, from + 1000); i++) args.push(`fill:${i}`, `value-${i}`)
    sends.push(client.call(args))
  }
  for (const reply of await Promise.all(sends)) if (reply !== 'OK') throw new Error(`MSET: ${String(reply)}`)
}

/** A key in the last bucket: the state transfer reaches it last. */
function lastBucketKey (prefix: string): string {
  for (let i = 0; ; i++) if (bucketOf(`${prefix}${i}`) === BUCKETS - 1) return `${prefix}${i}`
}

t.test('G1 across a state transfer: a write that waits while a newcomer\'s link comes up is at the newcomer when acknowledged', async t => {
  const a = await startNode(t)
  const writer = await connect(t, a)
  const watch = await connect(t, a) // MEMBERS must not queue behind the waiting SET
  await fill(writer, KEYS)
  // B: a peer that acknowledges only when told to.
  const b = await startFakePeer(t)
  t.ok(Array.isArray(await caller(watch)('JOIN', b.addr)), 'A admits the slow peer')
  await waitFor(async () => (await memberStates(watch)).get(b.addr) === 'up', 10000, 'the slow peer to have A\'s state')
  for (let round = 0; round < 3; round++) {
    const key = lastBucketKey(`g1:${round}:`)
    b.hold()
    const heldBefore = b.heldReplies
    let acknowledged = false
    const set = caller(writer)('SET', key, `v${round}`).then(reply => {
      acknowledged = true
      return reply
    })
    await waitFor(() => b.heldReplies > heldBefore, 1000, 'the SET to reach the slow peer')
    const c = await startNode(t, { join: a.cluster.advertise })
    const atC = caller(await connect(t, c))
    await waitFor(async () => (await memberStates(watch)).get(c.cluster.advertise) === 'syncing', 1000, 'A to be sending C its state')
    t.notOk(acknowledged, `round ${round}: the SET still waits for the slow peer after C's link came up`)
    b.release()
    t.equal(await set, 'OK', `round ${round}: SET acknowledged`)
    t.equal(await atC('GET', key), `v${round}`, `round ${round}: the newcomer already holds the acknowledged write`)
    const cState = (await memberStates(watch)).get(c.cluster.advertise)
    t.ok(cState === 'up' || cState === 'syncing', `round ${round}: C is a member at A (${String(cState)})`)
    await c.close()
  }
})

t.test('a newcomer is syncing at both ends while it receives the state, then up with all of it', async t => {
  const a = await startNode(t)
  const atA = await connect(t, a)
  await fill(atA, KEYS)
  const c = await startNode(t, { join: a.cluster.advertise })
  const atC = await connect(t, c)
  const cAddr = c.cluster.advertise
  let seenAtA = false
  let seenAtC = false
  await waitFor(async () => {
    const [fromA, fromC] = await Promise.all([memberStates(atA), memberStates(atC)])
    if (fromA.get(cAddr) === 'syncing') seenAtA = true
    if (fromC.get(cAddr) === 'syncing') seenAtC = true
    return seenAtA && seenAtC
  }, 5000, 'C syncing at A and at itself')
  t.ok(seenAtA, 'A lists C as syncing while it sends its state')
  t.ok(seenAtC, 'C lists itself as syncing while it receives it')
  await waitFor(async () => {
    const [fromA, fromC] = await Promise.all([memberStates(atA), memberStates(atC)])
    return fromA.get(cAddr) === 'up' && fromC.get(cAddr) === 'up' && fromC.get(a.cluster.advertise) === 'up'
  }, 10000, 'C up at both ends')
  t.equal(await caller(atC)('DBSIZE'), KEYS, 'C holds the whole state once up')
  const last = lastBucketKey('fill:')
  t.equal(await caller(atC)('GET', last), `value-${last.slice('fill:'.length)}`, 'a key of the last bucket is there')
})

t.test('the sender lists a peer as syncing while it sends its state, whatever the peer says of itself', async t => {
  const a = await startNode(t)
  const atA = await connect(t, a)
  const call = caller(atA)
  t.equal(await call('SET', 'k', 'v'), 'OK')
  const fake = await startFakePeer(t) // it always says it is up
  let first = true
  fake.mrepl = args => {
    if (first) fake.hold() // the transfer's first page goes unanswered for now
    first = false
    return `:${(args.length - 2) / 6}\r\n`
  }
  t.ok(Array.isArray(await call('JOIN', fake.addr)))
  await waitFor(() => fake.heldReplies > 0, 1000, 'the transfer to start')
  t.equal((await memberStates(atA)).get(fake.addr), 'syncing', 'syncing while the transfer waits for the peer')
  fake.release()
  await waitFor(async () => (await memberStates(atA)).get(fake.addr) === 'up', 1000, 'the peer up once the transfer is done')
  t.equal(fake.received.get('SYNCED'), 1, 'the transfer ended with SYNCED')
})

t.test('a write waiting when a peer\'s link comes up is resent to it at once: it does not wait for the whole state transfer', async t => {
  const a = await startNode(t)
  const writer = await connect(t, a)
  const watch = await connect(t, a)
  await fill(writer, 1000)
  // C acknowledges only when told to, so the SET below waits on it.
  const c = await startFakePeer(t)
  t.ok(Array.isArray(await caller(watch)('JOIN', c.addr)), 'A admits C')
  await waitFor(async () => (await memberStates(watch)).get(c.addr) === 'up', 5000, 'C to have A\'s state')
  c.hold()
  const set = caller(writer)('SET', 'waiting', 'v')
  await waitFor(() => c.heldReplies > 0, 1000, 'the SET to reach C')
  // B answers the first MREPL on its link (the resent batch) and none after it
  // (the state transfer), so a SET that waited for the transfer would never return.
  const b = await startFakePeer(t)
  const firstBatchKeys: string[] = []
  let batches = 0
  b.mrepl = args => {
    batches++
    if (batches === 1) {
      for (let i = 3; i < args.length; i += 6) firstBatchKeys.push((args[i] as Buffer).toString('latin1'))
    } else {
      b.hold()
    }
    return `:${(args.length - 2) / 6}\r\n`
  }
  t.ok(Array.isArray(await caller(watch)('JOIN', b.addr)), 'A admits B while the SET waits')
  await waitFor(() => batches >= 2, 2000, 'A to start sending B its state')
  c.release()
  const reply = await Promise.race([set, new Promise(resolve => setTimeout(() => resolve('still waiting after 3 s'), 3000))])
  t.equal(reply, 'OK', 'the SET is acknowledged while B\'s state transfer is held')
  t.same(firstBatchKeys, ['waiting'], 'the first batch on B\'s new link is the write still waiting for acknowledgement')
  t.equal((await memberStates(watch)).get(b.addr), 'syncing', 'A is still sending B its state')
  b.release()
})
