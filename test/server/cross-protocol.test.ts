import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { createLogger } from '../../lib/log.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { connect, rawConnect, waitFor, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Cross-protocol requests: `POST` or `Host:` as a command name
// (any case, inline or RESP) is HTTP sent by a browser on a web page's behalf.
// The node logs one warning naming the client and closes the connection
// without running anything after it.

async function watchedNode (t: Teardown, options: { requirepass?: string } = {}): Promise<{ node: KeystoneNode, warnings: string[] }> {
  const warnings: string[] = []
  const log = createLogger('warn', line => { if (line.includes(' warn ')) warnings.push(line) })
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', ...options }, { log })
  t.teardown(() => node.close())
  await node.start()
  return { node, warnings }
}

const HTTP_BODY = 'SET body 1\r\nFLUSHALL\r\n'

const cases: Array<{ name: string, send: string }> = [
  { name: 'POST request line', send: `POST / HTTP/1.1\r\nHost: 127.0.0.1:1989\r\nContent-Length: 22\r\n\r\n${HTTP_BODY}` },
  { name: 'Host: header first', send: `Host: 127.0.0.1:1989\r\n\r\n${HTTP_BODY}` },
  { name: 'lower-case post', send: `post / HTTP/1.1\r\n\r\n${HTTP_BODY}` },
  { name: 'HOST: in upper case', send: `HOST: localhost\r\n${HTTP_BODY}` },
  { name: 'POST as a RESP array', send: `*2\r\n$4\r\nPOST\r\n$1\r\n/\r\n${HTTP_BODY}` },
  { name: 'Host: as a RESP array', send: `*2\r\n$5\r\nhost:\r\n$9\r\nlocalhost\r\n${HTTP_BODY}` }
]

for (const c of cases) {
  t.test(`${c.name}: closed, nothing after it runs`, async t => {
    const { node, warnings } = await watchedNode(t)
    const raw = await rawConnect(t, node)
    const port = raw.socket.localPort
    raw.send('SET before 1\r\n')
    await raw.until(r => r.toString('latin1') === '+OK\r\n')
    raw.send(c.send)
    await raw.waitClosed()
    t.equal(raw.text, '+OK\r\n', 'no reply to the HTTP request or its body')
    const client = await connect(t, node)
    t.equal(await client.call(['EXISTS', 'body']), 0, 'the key SET in the body does not exist')
    t.equal(await client.call(['EXISTS', 'before']), 1, 'what came before still ran (FLUSHALL in the body did not)')
    await waitFor(() => warnings.length === 1, 1000, 'the warning')
    t.match(warnings[0], `SECURITY ATTACK`, 'one warning')
    t.match(warnings[0], `127.0.0.1:${port}`, 'naming the client address')
  })
}

t.test('before AUTH too', async t => {
  const { node, warnings } = await watchedNode(t, { requirepass: 'secret' })
  const raw = await rawConnect(t, node)
  raw.send(`POST / HTTP/1.1\r\nAUTH secret\r\n${HTTP_BODY}`)
  await raw.waitClosed()
  t.equal(raw.text, '')
  t.equal(node.store.size, 0)
  t.equal(warnings.length, 1)
})

t.test('POST or Host as a key or value is just data', async t => {
  const { node, warnings } = await watchedNode(t)
  const client = await connect(t, node)
  t.equal(await client.call(['SET', 'POST', 'Host:']), 'OK')
  t.equal(String(await client.call(['GET', 'POST'])), 'Host:')
  t.equal(warnings.length, 0)
  // `Host` without its colon is an unknown command, as in Redis.
  const raw = await rawConnect(t, node)
  raw.send('Host x\r\nPING\r\n')
  await raw.until(r => r.toString('latin1').endsWith('+PONG\r\n'))
  t.match(raw.text, /^-ERR unknown command 'Host'/)
})

t.test('names one byte off POST or Host: are unknown commands, not HTTP', async t => {
  const { node, warnings } = await watchedNode(t)
  const client = await connect(t, node)
  // 0x1a and ';' differ from ':' by one bit, '0' from 'O' by one more than case.
  for (const name of ['HOST\x1a', 'host;', 'P0ST', 'POSt ', 'Hosts']) {
    const reply = await client.call([Buffer.from(name, 'latin1'), 'x'])
    t.ok(reply instanceof RespError && reply.message.startsWith('ERR unknown command'), `${JSON.stringify(name)}: unknown command`)
  }
  t.equal(await client.call(['PING']), 'PONG', 'the connection stays open')
  t.equal(warnings.length, 0, 'no warning')
})
