import t from 'tap'
import { RespClient } from '../../lib/client/resp-client.js'
import { caller, connect, rawConnect, startNode } from '../helpers/server.js'

// Inline and RESP forms of the same command, and binary-safe keys and values.

t.test('inline and RESP forms are the same command', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send('SET inline 1\r\n')
  raw.send('*3\r\n$3\r\nSET\r\n$4\r\nresp\r\n$1\r\n2\r\n')
  raw.send('MGET inline resp\n') // a bare LF ends a line too
  raw.send('*3\r\n$4\r\nMGET\r\n$6\r\ninline\r\n$4\r\nresp\r\n')
  raw.send('  \t GET \t inline  \r\n') // spaces and tabs separate
  raw.send('\r\n\n') // empty lines are ignored
  raw.send('PING\r\n')
  const replies = await raw.replies(6)
  t.same(replies.map(r => Array.isArray(r) ? r.map(String) : String(r)), ['OK', 'OK', ['1', '2'], ['1', '2'], '1', 'PONG'])
  t.equal(raw.received.toString('latin1').endsWith('+PONG\r\n'), true, 'nothing for the empty lines')
})

t.test('inline quoting', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  const call = caller(await connect(t, node))
  raw.send('SET "two words" "a \\"quoted\\" \\\\ \\n\\r\\t\\x41\\x7a"\r\n')
  raw.send("SET 'single' 'it\\'s \\n literal'\r\n")
  raw.send('SET mixed pre"mid dle"\r\n')
  raw.send('SET "" ""\r\n')
  t.same((await raw.replies(4)).map(String), ['OK', 'OK', 'OK', 'OK'])
  t.equal(await call('GET', 'two words'), 'a "quoted" \\ \n\r\tAz', 'escapes in double quotes')
  t.equal(await call('GET', 'single'), "it's \\n literal", "single quotes: literal but for \\'")
  t.equal(await call('GET', 'mixed'), 'premid dle', 'a quoted part joins the token before it')
  t.equal(await call('EXISTS', ''), 1, 'an empty quoted key')
})

t.test('binary keys and values round trip', async t => {
  const node = await startNode(t)
  const client = await connect(t, node)
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const key = Buffer.concat([Buffer.from('bin\x00\r\n', 'latin1'), every])
  const value = Buffer.concat([every, Buffer.from('\r\n$3\r\n*1\r\n'), every.reverse()])
  t.equal(await client.call(['SET', key, value]), 'OK')
  t.same(await client.call(['GET', key]), value)
  t.same(await client.call(['MGET', key, 'nope']), [value, null])
  t.same(await client.call(['KEYS', '*']), [key], 'KEYS returns the exact key bytes')
  t.same(await client.call(['SCAN', '0', 'COUNT', '5000']), [Buffer.from('0'), [key]])
  t.equal(await client.call(['EXISTS', key]), 1)
  t.equal(await client.call(['EXISTS', key.subarray(0, key.length - 1)]), 0, 'a prefix is another key')

  const utf8 = Buffer.from('ключ 🔑', 'utf8')
  t.equal(await client.call(['SET', utf8, Buffer.from('значение ✓', 'utf8')]), 'OK')
  t.same((await client.call(['GET', utf8]) as Buffer).toString('utf8'), 'значение ✓')

  const large = Buffer.alloc(3 * 1024 * 1024)
  for (let i = 0; i < large.length; i++) large[i] = (i * 7919) & 0xff
  t.equal(await client.call(['SET', 'large', large]), 'OK')
  const back = await client.call(['GET', 'large'])
  t.ok(Buffer.isBuffer(back) && back.equals(large), 'a 3 MB value round trips')

  // The stored value is a copy, not a view of a network buffer that gets reused.
  const other = await RespClient.connect(node.address())
  t.teardown(() => other.close())
  for (let i = 0; i < 20; i++) await other.call(['SET', `filler${i}`, Buffer.alloc(4096, i)])
  t.same(await client.call(['GET', key]), value, 'still intact after more traffic')
  t.equal(await client.call(['DEL', key, utf8, 'large']), 3)
})

t.test('a command split across many writes', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  const request = '*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$12\r\nhello\r\nworld\r\nGET split\r\n'
  for (const byte of request) raw.send(byte)
  const replies = await raw.replies(2)
  t.same(replies.map(String), ['OK', 'hello\r\nworld'])
})
