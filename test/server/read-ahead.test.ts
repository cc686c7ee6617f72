import t from 'tap'
import { connect, rawConnect, startNode } from '../helpers/server.js'

// Connection.nextRequest parses up to 64 requests ahead of running them, so
// Store.warm can read their keys' memory at once. What a client sees must not
// change: replies in order, nothing run after QUIT or a framing error, and
// no request read ahead before AUTH with limits AUTH would change.

const resp = (...args: string[]): string => `*${args.length}\r\n${args.map(a => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`

t.test('a pipeline many times the read-ahead, in one write: every reply in order', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  let requests = ''
  let expected = ''
  for (let i = 0; i < 500; i++) {
    // Each GET reads the key the SET before it wrote, often in the same batch read ahead.
    requests += resp('SET', `k${i}`, `v${i}`) + resp('GET', `k${i}`) + resp('INCR', 'count') + resp('GET', `k${i + 1}`)
    expected += `+OK\r\n$${`v${i}`.length}\r\nv${i}\r\n:${i + 1}\r\n$-1\r\n`
  }
  raw.send(requests)
  await raw.until(r => r.length >= expected.length)
  t.equal(raw.text, expected)
})

t.test('QUIT in the middle of a batch read ahead: what comes after it is not run', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send(resp('SET', 'a', '1') + resp('QUIT') + resp('SET', 'b', '2') + resp('SET', 'c', '3'))
  await raw.waitClosed()
  t.equal(raw.text, '+OK\r\n+OK\r\n')
  const check = await connect(t, node)
  t.equal(await check.call(['EXISTS', 'a', 'b', 'c']), 1)
})

t.test('a framing error after valid requests in the same batch: they are answered, then the error, then the close', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send(resp('SET', 'a', '1').repeat(10) + '*1\r\n$x\r\n' + resp('SET', 'b', '2'))
  await raw.waitClosed()
  t.equal(raw.text, '+OK\r\n'.repeat(10) + '-ERR Protocol error: invalid bulk length\r\n')
  const check = await connect(t, node)
  t.equal(await check.call(['EXISTS', 'a', 'b']), 1)
})

t.test('requests after AUTH in the same write are read with the limits AUTH gives', async t => {
  // Before AUTH a request has at most 10 arguments (PROTOCOL.md §Limits); one
  // read ahead before AUTH ran would have been refused with them.
  const node = await startNode(t, { requirepass: 'secret' })
  const raw = await rawConnect(t, node)
  const pairs: string[] = []
  for (let i = 0; i < 8; i++) pairs.push(`m${i}`, String(i))
  raw.send(resp('AUTH', 'secret') + resp('MSET', ...pairs) + resp('GET', 'm7'))
  await raw.until(r => r.length >= '+OK\r\n+OK\r\n$1\r\n7\r\n'.length)
  t.equal(raw.text, '+OK\r\n+OK\r\n$1\r\n7\r\n')
})
