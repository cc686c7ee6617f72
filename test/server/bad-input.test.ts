import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { connect, rawConnect, startNode, waitFor, type RawSocket } from '../helpers/server.js'

// CONTRACT §Wire protocol: a framing error gets `-ERR Protocol error: ...` and
// the connection closes; a command error gets `-ERR ...` and it stays open.
// Whatever one client sends, the next client is served and the data is intact.

type Test = tap.Test

const PRECIOUS = Buffer.from('precious\r\n\x00value', 'latin1')

async function seeded (t: Test, options: Parameters<typeof startNode>[1] = {}): Promise<KeystoneNode> {
  const node = await startNode(t, options)
  const writer = await connect(t, node)
  if (options.requirepass !== undefined) t.equal(await writer.call(['AUTH', options.requirepass]), 'OK')
  t.equal(await writer.call(['SET', 'precious', PRECIOUS]), 'OK')
  writer.close()
  return node
}

/** A fresh client still gets answers, and the data written before is unchanged. */
async function stillServes (t: Test, node: KeystoneNode, password?: string): Promise<void> {
  const second = await connect(t, node)
  if (password !== undefined) t.equal(await second.call(['AUTH', password]), 'OK')
  t.equal(await second.call(['PING']), 'PONG', 'a second client is served')
  t.same(await second.call(['GET', 'precious']), PRECIOUS, 'earlier data is intact')
  second.close()
}

/** After a command error the same connection still works. */
async function stillOpen (t: Test, raw: RawSocket): Promise<void> {
  const before = raw.received.length
  raw.send('PING\r\n')
  await raw.until(r => r.subarray(before).toString('latin1') === '+PONG\r\n')
  t.notOk(raw.closed, 'connection stays open')
}

interface Case {
  name: string
  send: string
  reply: string
  closes: boolean
}

const PROTOCOL_ERROR = (what: string): string => `-ERR Protocol error: ${what}\r\n`

const cases: Case[] = [
  { name: 'unbalanced double quotes', send: 'SET k "abc\r\n', reply: PROTOCOL_ERROR('unbalanced quotes in request'), closes: true },
  { name: 'unbalanced single quotes', send: "SET k 'abc\r\n", reply: PROTOCOL_ERROR('unbalanced quotes in request'), closes: true },
  { name: 'a closing quote not followed by a space', send: 'SET k "a"b\r\n', reply: PROTOCOL_ERROR('unbalanced quotes in request'), closes: true },
  { name: 'a bulk length that is not a number', send: '*2\r\n$3\r\nGET\r\n$abc\r\nk\r\n', reply: PROTOCOL_ERROR('invalid bulk length'), closes: true },
  { name: 'a negative bulk length', send: '*2\r\n$3\r\nGET\r\n$-5\r\n', reply: PROTOCOL_ERROR('invalid bulk length'), closes: true },
  { name: 'a bulk length over the limit', send: '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999999\r\n', reply: PROTOCOL_ERROR('invalid bulk length'), closes: true },
  { name: 'a bulk length line that never ends', send: '*2\r\n$3\r\nGET\r\n$' + '9'.repeat(200), reply: PROTOCOL_ERROR('too big bulk count string'), closes: true },
  { name: 'a multibulk length that is not a number', send: '*x\r\n', reply: PROTOCOL_ERROR('invalid multibulk length'), closes: true },
  { name: 'a multibulk length over the limit', send: '*99999999\r\n', reply: PROTOCOL_ERROR('invalid multibulk length'), closes: true },
  { name: 'a multibulk length line that never ends', send: '*' + '1'.repeat(200), reply: PROTOCOL_ERROR('too big multibulk count string'), closes: true },
  { name: 'a multibulk length without CR', send: '*1\n$4\r\nPING\r\n', reply: PROTOCOL_ERROR('expected CRLF after multibulk count'), closes: true },
  { name: 'an array element that is not a bulk string', send: '*1\r\n:4\r\n', reply: PROTOCOL_ERROR("expected '$', got ':'"), closes: true },
  { name: 'missing CRLF after bulk data', send: '*2\r\n$3\r\nGET\r\n$1\r\nkXY', reply: PROTOCOL_ERROR('expected CRLF after bulk data'), closes: true },
  { name: 'bulk data longer than its length', send: '*1\r\n$2\r\nPING\r\n', reply: PROTOCOL_ERROR('expected CRLF after bulk data'), closes: true },
  { name: 'an unknown command', send: 'NOPE x y\r\n', reply: "-ERR unknown command 'NOPE', with args beginning with: 'x' 'y' \r\n", closes: false },
  { name: 'an unknown command with many arguments: quoted while under 128 bytes, as Redis', send: `NOPE a b c d ${'x'.repeat(100)} ${'y'.repeat(100)} z\r\n`, reply: `-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' 'c' 'd' '${'x'.repeat(100)}' '${'y'.repeat(9)}' \r\n`, closes: false },
  { name: 'an unknown command with a NUL in an argument: cut there, as Redis', send: '*3\r\n$4\r\nNOPE\r\n$3\r\na\x00b\r\n$2\r\ncd\r\n', reply: "-ERR unknown command 'NOPE', with args beginning with: 'a' 'cd' \r\n", closes: false },
  { name: 'an unknown command in RESP form', send: '*1\r\n$4\r\nNOPE\r\n', reply: "-ERR unknown command 'NOPE', with args beginning with: \r\n", closes: false },
  { name: 'too few arguments', send: 'GET\r\n', reply: "-ERR wrong number of arguments for 'get' command\r\n", closes: false },
  { name: 'too many arguments', send: '*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n', reply: "-ERR wrong number of arguments for 'get' command\r\n", closes: false },
  { name: 'a bad argument', send: 'EXPIRE precious soon\r\n', reply: '-ERR value is not an integer or out of range\r\n', closes: false },
  { name: 'NUL bytes are ordinary bytes in an inline command', send: 'ECHO a\x00b\r\n', reply: '$3\r\na\x00b\r\n', closes: false },
  { name: 'a NUL byte in an unknown command name', send: 'PI\x00NG\r\n', reply: "-ERR unknown command 'PI', with args beginning with: \r\n", closes: false },
  { name: 'a line of NUL bytes', send: '\x00\x00\x00\n', reply: "-ERR unknown command '', with args beginning with: \r\n", closes: false }
]

for (const c of cases) {
  t.test(c.name, async t => {
    const node = await seeded(t)
    const raw = await rawConnect(t, node)
    raw.send(c.send)
    await raw.until(r => r.length >= c.reply.length)
    t.equal(raw.text, c.reply, 'the reply')
    if (c.closes) {
      await raw.waitClosed()
      t.equal(raw.text, c.reply, 'nothing after the error')
    } else {
      await stillOpen(t, raw)
    }
    await stillServes(t, node)
  })
}

t.test('commands before a framing error in the same write are answered first', async t => {
  const node = await seeded(t)
  const raw = await rawConnect(t, node)
  raw.send('SET before 1\r\nGET before\r\nSET k "oops\r\nSET after 1\r\n')
  await raw.waitClosed()
  t.equal(raw.text, '+OK\r\n$1\r\n1\r\n' + PROTOCOL_ERROR('unbalanced quotes in request'))
  const check = await connect(t, node)
  t.equal(await check.call(['EXISTS', 'before', 'after']), 1, 'nothing after the bad frame ran')
  await stillServes(t, node)
})

t.test('a framing error split across many writes', async t => {
  const node = await seeded(t)
  const raw = await rawConnect(t, node)
  for (const byte of '*2\r\n$3\r\nGET\r\n$1\r\nkXY') raw.send(byte)
  await raw.waitClosed()
  t.equal(raw.text, PROTOCOL_ERROR('expected CRLF after bulk data'))
  await stillServes(t, node)
})

t.test('NUL bytes never stall a connection', async t => {
  const node = await seeded(t)
  const raw = await rawConnect(t, node)
  raw.send('SET nul a\x00b\r\n')
  t.same(await raw.replies(1), ['OK'])
  raw.send('\x00')
  raw.send('\x00\r\nGET nul\r\n')
  const [unknown, value] = await raw.replies(2)
  t.ok(unknown instanceof RespError && unknown.message.startsWith("ERR unknown command '', "), 'the name quoted as Redis does, cut at its first NUL')
  t.same(value, Buffer.from('a\x00b', 'latin1'))
  const second = await connect(t, node)
  t.same(await second.call(['GET', 'nul']), Buffer.from('a\x00b', 'latin1'))
  await stillServes(t, node)
})

/** Writes `total` bytes of `fill` (no newline) in 64 KiB chunks, honouring back-pressure, until done or closed. */
async function sendLine (raw: RawSocket, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 'a')
  let sent = 0
  while (sent < total && !raw.closed && !raw.socket.destroyed) {
    if (!raw.socket.write(chunk)) {
      await new Promise<void>(resolve => {
        const done = (): void => { raw.socket.off('drain', done); raw.socket.off('close', done); resolve() }
        raw.socket.on('drain', done)
        raw.socket.on('close', done)
      })
    }
    sent += chunk.length
  }
  return sent
}

t.test('a 10 MB line with no newline is refused after 64 KiB, without buffering it', async t => {
  const node = await seeded(t)
  const raw = await rawConnect(t, node)
  const inputBefore = node.stats.netInputBytes
  const rssBefore = process.memoryUsage().rss
  await sendLine(raw, 10 * 1024 * 1024)
  await raw.waitClosed()
  t.equal(raw.text, PROTOCOL_ERROR('too big inline request'))
  const read = node.stats.netInputBytes - inputBefore
  t.ok(read < 4 * 1024 * 1024, `the server stopped reading early (read ${read} bytes)`)
  const grew = process.memoryUsage().rss - rssBefore
  t.ok(grew < 32 * 1024 * 1024, `memory stays bounded (rss grew ${grew} bytes)`)
  await stillServes(t, node)
})

t.test('a line just under the limit is fine; the limit is configurable', async t => {
  const node = await seeded(t, { maxInlineLen: 1024 })
  const ok = await rawConnect(t, node)
  ok.send(`ECHO ${'x'.repeat(1019)}\r\n`)
  t.equal((await ok.replies(1))[0]?.toString(), 'x'.repeat(1019))
  const raw = await rawConnect(t, node)
  raw.send(`ECHO ${'x'.repeat(1020)}\r\n`)
  await raw.waitClosed()
  t.equal(raw.text, PROTOCOL_ERROR('too big inline request'))
  await stillServes(t, node)
})

t.test('a client that pipelines GETs and never reads is throttled; others are served', async t => {
  const node = await seeded(t)
  const big = Buffer.alloc(256 * 1024, 'v')
  const writer = await connect(t, node)
  t.equal(await writer.call(['SET', 'big', big]), 'OK')
  const hog = await rawConnect(t, node)
  hog.socket.pause() // never read: replies pile up in the kernel, then in the server
  const requests = 400 // 100 MB of replies if the server kept going
  const before = node.stats.commandsProcessed
  const rssBefore = process.memoryUsage().rss
  hog.send('*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n'.repeat(requests))
  // Wait until the server stops running the hog's commands.
  let last = -1
  let stableSince = Date.now()
  await waitFor(() => {
    const now = node.stats.commandsProcessed
    if (now !== last) { last = now; stableSince = Date.now() }
    return Date.now() - stableSince > 300
  }, 10000, 'the server to stop reading the hog')
  const ran = node.stats.commandsProcessed - before
  t.ok(ran > 0 && ran < requests / 2, `the server paused the hog after ${ran} of ${requests} GETs`)
  const grew = process.memoryUsage().rss - rssBefore
  t.ok(grew < 64 * 1024 * 1024, `memory stays bounded (rss grew ${grew} bytes)`)
  t.notOk(hog.closed, 'the hog is throttled, not dropped')

  await stillServes(t, node)
  const other = await connect(t, node)
  t.same(await other.call(['GET', 'big']), big, 'a second client reads the large value')

  // Once the hog reads, it gets every reply, in full.
  const replySize = `$${big.length}\r\n`.length + big.length + 2
  let bytes = 0
  hog.socket.removeAllListeners('data')
  hog.socket.on('data', (chunk: Buffer) => { bytes += chunk.length })
  hog.socket.resume()
  await waitFor(() => bytes >= replySize * requests, 15000, 'every reply')
  t.equal(bytes, replySize * requests, 'all replies arrive once the client reads')
})

t.test('a client over the hard output limit is dropped', async t => {
  const node = await seeded(t, { clientOutputSoftLimit: 64 * 1024, clientOutputHardLimit: 128 * 1024 })
  const writer = await connect(t, node)
  t.equal(await writer.call(['SET', 'big', Buffer.alloc(256 * 1024, 'v')]), 'OK')
  const hog = await rawConnect(t, node)
  hog.socket.pause()
  // Back-pressure keeps a batch of replies near the soft limit; only one reply
  // bigger than the hard limit, once the kernel buffers are full, can pass it.
  hog.send('MGET big big big big big big big big\r\n'.repeat(50))
  writer.close()
  await waitFor(() => node.server.connections.size === 0, 5000, 'the server to drop the hog')
  t.ok(node.stats.commandsProcessed < 50, 'dropped before running everything')
  hog.socket.resume() // a paused socket would not notice the close
  await hog.waitClosed()
  await stillServes(t, node)
})

t.test('before AUTH: at most 10 arguments and 16 KiB per argument', async t => {
  const password = 'sesame'
  const cases: Array<{ name: string, send: string, reply: string }> = [
    { name: '11 arguments (RESP)', send: '*11\r\n', reply: 'invalid multibulk length' },
    { name: '11 arguments (inline)', send: 'AUTH ' + 'x '.repeat(10) + '\r\n', reply: 'invalid multibulk length' },
    // Only the header is sent: the server must refuse without waiting for (buffering) the data.
    { name: 'a 16 KiB + 1 bulk', send: '*2\r\n$4\r\nAUTH\r\n$16385\r\n', reply: 'invalid bulk length' },
    { name: 'a huge bulk', send: '*2\r\n$4\r\nAUTH\r\n$100000000\r\n', reply: 'invalid bulk length' },
    { name: 'a 16 KiB + 1 inline line', send: 'AUTH ' + 'x'.repeat(16 * 1024 - 4), reply: 'too big inline request' }
  ]
  for (const c of cases) {
    await t.test(c.name, async t => {
      const node = await seeded(t, { requirepass: password })
      const raw = await rawConnect(t, node)
      raw.send(c.send)
      await raw.waitClosed()
      t.equal(raw.text, PROTOCOL_ERROR(c.reply))
      await stillServes(t, node, password)
    })
  }

  await t.test('10 arguments and 16 KiB arguments are allowed (and get NOAUTH)', async t => {
    const node = await seeded(t, { requirepass: password })
    const raw = await rawConnect(t, node)
    raw.send('DEL a b c d e f g h i\r\n')
    raw.send(`*2\r\n$4\r\nECHO\r\n$16384\r\n${'e'.repeat(16384)}\r\n`)
    const replies = await raw.replies(2)
    t.same(replies.map(String), ['NOAUTH Authentication required.', 'NOAUTH Authentication required.'])
    t.notOk(raw.closed)
  })

  await t.test('after AUTH the normal limits apply', async t => {
    const node = await seeded(t, { requirepass: password })
    const raw = await rawConnect(t, node)
    const value = 'v'.repeat(100 * 1024)
    raw.send(`AUTH ${password}\r\n`)
    raw.send('DEL a b c d e f g h i j k l m n\r\n')
    raw.send(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${value.length}\r\n${value}\r\n`)
    raw.send('*2\r\n$6\r\nNOSUCH\r\n$3\r\nbig\r\n')
    raw.send('GET big\r\n')
    const replies = await raw.replies(5)
    t.equal(replies[0], 'OK')
    t.equal(replies[1], 0)
    t.equal(replies[2], 'OK')
    t.ok(replies[3] instanceof RespError, 'an unknown command is an error, the connection stays')
    t.equal(replies[4]?.toString(), value)
    t.notOk(raw.closed)
  })

  await t.test('AUTH in the same write lifts the limits for the commands after it', async t => {
    const node = await seeded(t, { requirepass: password })
    const raw = await rawConnect(t, node)
    raw.send(`AUTH ${password}\r\nDEL 1 2 3 4 5 6 7 8 9 10 11 12\r\n`)
    t.same(await raw.replies(2), ['OK', 0])
  })
})

t.test('maxclients: the client over the limit is told and closed', async t => {
  const node = await seeded(t, { maxclients: 2 })
  const a = await connect(t, node)
  const b = await connect(t, node)
  t.equal(await a.call(['PING']), 'PONG')
  t.equal(await b.call(['PING']), 'PONG')
  const third = await rawConnect(t, node)
  await third.waitClosed()
  t.equal(third.text, '-ERR max number of clients reached\r\n')
  t.equal(await a.call(['GET', 'precious']).then(v => Buffer.isBuffer(v) && v.equals(PRECIOUS)), true, 'the others keep working')
  b.close()
  await waitFor(() => node.server.connections.size === 1, 5000, 'the server to see b go')
  const c = await connect(t, node)
  t.equal(await c.call(['PING']), 'PONG', 'a slot freed is a slot taken')
  t.match(String(await c.call(['INFO', 'stats'])), /rejected_connections:1\r\n/)
})

t.test('requirepass: NOAUTH, WRONGPASS, then AUTH', async t => {
  const node = await seeded(t, { requirepass: 'sesame' })
  const client = await connect(t, node)
  t.equal(String(await client.call(['GET', 'precious'])), 'NOAUTH Authentication required.')
  t.equal(String(await client.call(['PING'])), 'NOAUTH Authentication required.')
  t.equal(String(await client.call(['AUTH', 'wrong'])), 'WRONGPASS invalid username-password pair or user is disabled.')
  t.equal(String(await client.call(['AUTH', 'someone', 'sesame'])), 'WRONGPASS invalid username-password pair or user is disabled.')
  t.equal(String(await client.call(['GET', 'precious'])), 'NOAUTH Authentication required.', 'still not authenticated')
  t.equal(String(await client.call(['NOPE'])), "ERR unknown command 'NOPE', with args beginning with: ", 'unknown commands say so before NOAUTH')
  t.equal(await client.call(['AUTH', 'sesame']), 'OK')
  t.same(await client.call(['GET', 'precious']), PRECIOUS)

  const other = await connect(t, node)
  t.equal(await other.call(['AUTH', 'default', 'sesame']), 'OK', 'AUTH default <password>')
  t.equal(await other.call(['PING']), 'PONG')

  const hello = await connect(t, node)
  t.equal(String(await hello.call(['HELLO'])), 'NOAUTH Authentication required.')
  t.equal(String(await hello.call(['HELLO', '2', 'AUTH', 'default', 'nope'])), 'WRONGPASS invalid username-password pair or user is disabled.')
  const reply = await hello.call(['HELLO', '2', 'AUTH', 'default', 'sesame'])
  t.ok(Array.isArray(reply), 'HELLO 2 AUTH authenticates')
  t.equal(await hello.call(['PING']), 'PONG')

  const quitter = await rawConnect(t, node)
  quitter.send('QUIT\r\n')
  await quitter.waitClosed()
  t.equal(quitter.text, '+OK\r\n', 'QUIT works before AUTH')
})

t.test('AUTH without a password configured', async t => {
  const node = await seeded(t)
  const client = await connect(t, node)
  t.equal(String(await client.call(['AUTH', 'x'])), 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')
  t.equal(await client.call(['AUTH', 'default', 'anything']), 'OK', 'the default user has no password')
  t.equal(String(await client.call(['AUTH', 'a', 'b', 'c'])), 'ERR syntax error')
})

t.test('1000 pipelined mixed commands in one write come back in order', async t => {
  const node = await seeded(t)
  const raw = await rawConnect(t, node)
  const requests: string[] = []
  const expected: unknown[] = []
  for (let i = 0; i < 200; i++) {
    requests.push(`SET key:${i} value:${i}`); expected.push('OK')
    requests.push(`*2\r\n$3\r\nGET\r\n$${`key:${i}`.length}\r\nkey:${i}`); expected.push(`value:${i}`)
    requests.push(`EXISTS key:${i} key:${i + 1}`); expected.push(1)
    requests.push(i % 2 === 0 ? `NOPE ${i}` : `ECHO ${i}`); expected.push(i % 2 === 0 ? `ERR unknown command 'NOPE', with args beginning with: '${i}' ` : String(i))
    requests.push(i % 3 === 0 ? `DEL key:${i}` : 'PING'); expected.push(i % 3 === 0 ? 1 : 'PONG')
  }
  t.equal(requests.length, 1000)
  raw.send(requests.join('\r\n') + '\r\n')
  const replies = await raw.replies(1000)
  const plain = replies.map(r => Buffer.isBuffer(r) || r instanceof RespError ? String(r) : r)
  t.same(plain, expected)
  t.notOk(raw.closed)
  const check = await connect(t, node)
  t.equal(await check.call(['DBSIZE']), 1 + 200 - 67, 'every write ran')
})

t.test('graceful close', async t => {
  await t.test('a client that half-closes still gets its replies', async t => {
    const node = await seeded(t)
    const raw = await rawConnect(t, node)
    raw.send('SET a 1\r\nGET a\r\nGET precious\r\n')
    raw.socket.end()
    await raw.waitClosed()
    t.equal(raw.text, '+OK\r\n$1\r\n1\r\n$' + PRECIOUS.length + '\r\n' + PRECIOUS.toString('latin1') + '\r\n')
    await stillServes(t, node)
  })

  await t.test('QUIT answers OK, then closes; later commands are not run', async t => {
    const node = await seeded(t)
    const raw = await rawConnect(t, node)
    raw.send('SET a 1\r\nQUIT\r\nSET b 2\r\n')
    await raw.waitClosed()
    t.equal(raw.text, '+OK\r\n+OK\r\n')
    const check = await connect(t, node)
    t.equal(await check.call(['EXISTS', 'a', 'b']), 1)
  })

  await t.test('node.close() flushes replies, closes clients, refuses new ones; twice is fine', async t => {
    const node = await seeded(t)
    const raw = await rawConnect(t, node)
    const client = await connect(t, node)
    const { port } = node.address()
    raw.send('GET precious\r\n')
    await raw.replies(1)
    const closing = node.close()
    await Promise.all([closing, node.close(), raw.waitClosed()])
    t.ok(client.closed || await waitFor(() => client.closed), 'clients are closed')
    const refused = await rawConnect(t, { host: '127.0.0.1', port }).then(() => false, (err: NodeJS.ErrnoException) => err.code)
    t.equal(refused, 'ECONNREFUSED')
  })
})
