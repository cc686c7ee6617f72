import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { memberStates, startCluster, startFakePeer } from '../helpers/cluster.js'
import { caller, connect, rawConnect, spawnServer, startNode, waitFor, type Address } from '../helpers/server.js'

// PROTOCOL.md §WAIT, and which peers it counts (§Peer links, §State transfer).

const WAIT = (wanted: number, timeout: number): string =>
  `*3\r\n$4\r\nWAIT\r\n$${String(wanted).length}\r\n${wanted}\r\n$${String(timeout).length}\r\n${timeout}\r\n`

/** Whether some client of `node` has sent WAIT (the server has it, and it is pending unless answered). */
function waitArrived (node: KeystoneNode): boolean {
  for (const s of node.sessions()) if (s.lastCommand === 'wait') return true
  return false
}

type Raw = Awaited<ReturnType<typeof rawConnect>>

/** Sends `WAIT wanted 0` on a raw connection and checks that it is pending at the node. */
async function pendingWait (t: tap.Test, node: KeystoneNode, wanted: number, why: string): Promise<Raw> {
  const raw = await rawConnect(t, node)
  raw.send(WAIT(wanted, 0))
  await waitFor(() => waitArrived(node), 2000, 'WAIT to reach the node')
  t.equal(raw.received.length, 0, why)
  return raw
}

/** Closes the node, checking that close() does not wait out the 5 s grace for clients. */
async function closePromptly (t: tap.Test, node: KeystoneNode): Promise<void> {
  const started = Date.now()
  await node.close()
  const took = Date.now() - started
  t.ok(took < 1000, `close() took ${took} ms (the grace for clients is 5000)`)
}

const addr = (a: Address): string => `${a.host}:${a.port}`

t.test('a pending WAIT is answered when the node closes, and close is prompt', async t => {
  const node = await startNode(t)
  const raw = await pendingWait(t, node, 1, 'WAIT 1 0 without peers waits')
  await closePromptly(t, node)
  t.same(await raw.replies(1, 1000), [0], 'the reply is the count: no peer')
  await raw.waitClosed(1000)
})

t.test('a pending WAIT answered at close gives the count of peers holding every write', async t => {
  const [a, b] = await startCluster(t, 2) as [KeystoneNode, KeystoneNode]
  t.equal(await caller(await connect(t, a))('SET', 'k', 'v'), 'OK')
  const raw = await pendingWait(t, a, 2, 'WAIT 2 0 with one peer waits')
  await closePromptly(t, a)
  // B held every write of A when close() was called: the count is 1.
  // Cluster.close() answers pending WAITs before it closes the links, so they still count.
  t.same(await raw.replies(1, 1000), [1], 'the reply counts the peer that holds every write')
  await raw.waitClosed(1000)
  t.equal(await caller(await connect(t, b))('GET', 'k'), 'v')
})

t.test('a client that goes away during WAIT 5 0 keeps nothing alive', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send(WAIT(5, 0))
  await waitFor(() => waitArrived(node), 2000, 'WAIT to reach the node')
  raw.close()
  await waitFor(() => node.server.connections.size === 0, 2000, 'the node to drop the connection')
  const other = caller(await connect(t, node))
  t.equal(await other('WAIT', '0', '0'), 0, 'the node still answers WAIT')
  t.equal(await other('WAIT', '1', '50'), 0, 'and times WAIT out')
  const started = Date.now()
  await node.close()
  t.ok(Date.now() - started < 1000, `close() took ${Date.now() - started} ms`)
})

t.test('a peer back after being down counts for WAIT once its state transfer is done, without new writes', async t => {
  const a = await startNode(t)
  const call = caller(await connect(t, a))
  const watch = await connect(t, a)
  const b = await spawnServer(t, ['--port', '0', '--data-dir', '', '--join', a.cluster.advertise])
  await waitFor(async () => (await memberStates(watch)).get(addr(b)) === 'up', 5000, 'B up at A')
  t.equal(await call('SET', 'before', '1'), 'OK')
  t.equal(await call('WAIT', '1', '1000'), 1, 'B counts')
  b.process.kill('SIGKILL')
  await b.exited
  await waitFor(async () => (await memberStates(watch)).get(addr(b)) === 'down', 2000, 'B down at A')
  t.equal(await call('SET', 'while-down', '2'), 'OK')
  t.equal(await call('WAIT', '1', '100'), 0, 'B is down: not counted')
  const b2 = await spawnServer(t, ['--port', String(b.port), '--data-dir', '', '--join', a.cluster.advertise])
  // No writes from here on: the transfer alone must make B count again.
  const counted = await waitFor(async () => (await call('WAIT', '1', '1000')) === 1, 8000, 'WAIT 1 1000 to count B')
  t.ok(counted, 'WAIT counts B again')
  const atB = caller(await connect(t, b2))
  t.equal(await atB('GET', 'while-down'), '2', 'B counted: it holds the write made while it was down')
  t.equal(await atB('GET', 'before'), '1')
})

t.test('a peer that refuses replicated writes is marked down and never counted', async t => {
  const a = await startNode(t)
  const call = caller(await connect(t, a))
  const watch = await connect(t, a)
  const fake = await startFakePeer(t)
  const port = Number(fake.addr.split(':')[1])
  let refused = 0
  fake.mrepl = () => {
    refused++
    fake.stopAccepting() // so that it stays down until the test lets it back
    return '-ERR unknown command\r\n'
  }
  t.ok(Array.isArray(await call('JOIN', fake.addr)))
  await waitFor(async () => (await memberStates(watch)).get(fake.addr) === 'up', 2000, 'the fake peer up at A')
  const started = Date.now()
  t.equal(await call('SET', 'k', 'v'), 'OK', 'the write is acknowledged without the refusing peer')
  t.ok(Date.now() - started < 1000, `promptly (${Date.now() - started} ms)`)
  t.equal(refused, 1, 'the peer was sent the write and refused it')
  await waitFor(async () => (await memberStates(watch)).get(fake.addr) === 'down', 1000, 'the refusing peer to be down at A')
  t.pass('listed down')
  t.equal(await call('WAIT', '1', '100'), 0, 'WAIT does not count it')
  // Let it be dialled again: A sends it the state, which it refuses too.
  await fake.listen(port)
  await waitFor(async () => refused >= 2 && (await memberStates(watch)).get(fake.addr) !== 'syncing', 3000, 'the state transfer to be refused')
  t.equal(await call('WAIT', '1', '100'), 0, 'a peer that refused the state transfer is not counted either')
})
