import net from 'node:net'
import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { Server } from '../../lib/server/server.js'
import { startCluster } from '../helpers/cluster.js'
import { holdFor, startNode, tempDir, waitFor, type Address, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §End of input: a client that sends its commands and then shuts
// down its sending side (`printf ... | nc -N`) gets every reply, in order,
// waiting ones included; then the server closes. A command cut short by the
// FIN is dropped unanswered.

const PAYLOAD = 'SET a b\r\nGET a\r\nDEL a\r\n'
const REPLIES = '+OK\r\n$1\r\nb\r\n:1\r\n'

/** Sends `payload`, half-closes, and resolves with every byte received once the server closes. */
function halfClose (t: Teardown, to: Address, payload: string): { done: Promise<string>, sent: Promise<void> } {
  const socket = net.connect({ ...to, allowHalfOpen: true })
  t.teardown(() => socket.destroy())
  const chunks: Buffer[] = []
  const sent = new Promise<void>(resolve => socket.once('connect', () => socket.end(payload, 'latin1', resolve)))
  const done = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
  return { done, sent }
}

t.test('a single in-memory node answers everything, then closes', async t => {
  const node = await startNode(t)
  t.equal(await halfClose(t, node.address(), PAYLOAD).done, REPLIES)
})

t.test('--fsync always: replies that wait for the fsync still go out', async t => {
  const node = await startNode(t, { dataDir: tempDir(t), fsync: 'always' })
  t.equal(await halfClose(t, node.address(), PAYLOAD).done, REPLIES)
})

t.test('a node with a live peer: replies that wait for the peer still go out', async t => {
  const [a, b] = await startCluster(t, 2)
  t.equal(await halfClose(t, (a as KeystoneNode).address(), PAYLOAD).done, REPLIES)
  await waitFor(() => (b as KeystoneNode).store.size === 0 && a?.store.size === 0, 5000, 'the DEL to reach the peer')
})

t.test('a command cut short by the FIN is dropped without a reply', async t => {
  const node = await startNode(t)
  t.equal(await halfClose(t, node.address(), 'PING\r\nSET x').done, '+PONG\r\n')
  t.equal(await halfClose(t, node.address(), 'PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n').done, '+PONG\r\n')
  t.equal(node.store.size, 0, 'the partial SET did not run')
})

t.test('a WAIT that would wait without limit answers at once: a client that stopped sending may be gone', async t => {
  const node = await startNode(t)
  const started = Date.now()
  t.equal(await halfClose(t, node.address(), 'SET a b\r\nWAIT 5 0\r\nPING\r\n').done, '+OK\r\n:0\r\n+PONG\r\n')
  t.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`)
  await waitFor(() => node.server.connections.size === 0, 2000, 'the node to drop the connection')
})

/** A server whose write barrier stays shut until `open()`. */
async function gatedServer (t: Teardown): Promise<{ node: KeystoneNode, address: Address, open: () => void }> {
  let open: () => void = () => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: silentLogger })
  const server = new Server(node, node.table, () => gate)
  t.teardown(() => server.close(100))
  t.teardown(() => node.close())
  const { port } = await server.listen()
  return { node, address: { host: '127.0.0.1', port }, open }
}

t.test('replies held after the FIN arrived are sent once they may go', async t => {
  const { node, address, open } = await gatedServer(t)
  const { done, sent } = halfClose(t, address, PAYLOAD)
  await sent
  await waitFor(() => node.stats.commandsProcessed === 3, 5000, 'all three commands to run')
  let closed = false
  void done.then(() => { closed = true })
  await holdFor(50, 'negative check: a connection closed too early would have been seen closing')
  t.notOk(closed, 'the connection stays open while replies wait')
  open()
  t.equal(await done, REPLIES)
})

t.test('a pipeline past the waiting-reply bound is still read to the end after the FIN', async t => {
  const { node, address, open } = await gatedServer(t)
  const total = 3000
  let payload = ''
  for (let i = 0; i < total; i++) payload += `SET k${i} v\r\n`
  const { done, sent } = halfClose(t, address, payload)
  await sent
  await waitFor(() => node.stats.commandsProcessed >= 1024, 5000, 'the first writes to run')
  open()
  t.equal(await done, '+OK\r\n'.repeat(total), 'every write answered, in order')
  t.equal(node.store.size, total)
})
