import t from 'tap'
import { RespClient } from '../../lib/client/resp-client.js'
import { KeystoneNode } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { Server } from '../../lib/server/server.js'
import { holdFor, plain, waitFor, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Acknowledgement: a write's reply may wait (for replication);
// replies after it wait too, so request order holds, and a client cannot make
// the server hold replies without bound. The cluster supplies the barrier; here
// the test holds it shut and opens it.

async function gatedServer (t: Teardown): Promise<{ node: KeystoneNode, client: RespClient, open: () => void }> {
  let open: () => void = () => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  let shut = true
  gate.then(() => { shut = false }, () => {})
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: silentLogger })
  const server = new Server(node, node.table, () => (shut ? gate : null))
  t.teardown(() => server.close(100))
  t.teardown(() => node.close())
  const { port } = await server.listen()
  const client = await RespClient.connect({ host: '127.0.0.1', port })
  t.teardown(() => client.close())
  return { node, client, open }
}

t.test('replies after a waiting write wait too, then all come in request order', async t => {
  const { node, client, open } = await gatedServer(t)
  const order: string[] = []
  const replies = [
    client.call(['PING', 'first']),
    client.call(['SET', 'a', '1']),
    client.call(['GET', 'a']),
    client.call(['PING', 'last'])
  ].map((p, i) => p.then(r => { order.push(String(i)); return plain(r) }))
  t.equal(await replies[0], 'first', 'a reply before the write is not held')
  await waitFor(() => node.stats.commandsProcessed >= 4, 5000, 'all four commands to run')
  await holdFor(50, 'negative check: their replies, had they been sent, would have arrived')
  t.same(order, ['0'], 'nothing after the waiting write is sent while it waits')
  open()
  t.same(await Promise.all(replies), ['first', 'OK', '1', 'last'])
  t.same(order, ['0', '1', '2', '3'], 'in request order')
})

t.test('a client pipelining writes that wait is no longer read past the bound', async t => {
  const { node, client, open } = await gatedServer(t)
  const total = 3000
  const replies: Array<Promise<unknown>> = []
  for (let i = 0; i < total; i++) replies.push(client.call(['SET', `k${i}`, 'v']).then(plain))
  await waitFor(() => node.stats.commandsProcessed >= 1024, 5000, 'the first writes to run')
  await holdFor(100, 'negative check: a server still reading would run more commands meanwhile')
  const processed = node.stats.commandsProcessed
  t.ok(processed < total, `the server stopped reading (${processed} of ${total} commands run while replies wait)`)
  open()
  const all = await Promise.all(replies)
  t.equal(all.filter(r => r === 'OK').length, total, 'every write answered once the barrier opens')
  t.equal(node.store.size, total)
})
