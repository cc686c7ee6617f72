import { execFile, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import Redis from 'ioredis'
import t from 'tap'
import { KeystoneError, KeystoneNode } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, plain, rawConnect, runBin, startLoggedNode, toolSkip, waitFor } from '../helpers/server.js'
import { connectTls, lazyTlsFixture, NO_OPENSSL, tlsOptions } from '../helpers/tls.js'

// PROTOCOL.md §TLS on one node: the port speaks TLS only, to every client;
// --tls-auth-clients; what real clients (ioredis, redis-cli) see.

const fixture = lazyTlsFixture(t)
const skip = toolSkip(t, NO_OPENSSL)

t.test('a RESP client over TLS: commands work, the node\'s certificate is served', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const client = await connectTls(t, node.address(), f.ca)
  const call = caller(client)
  t.equal(await call('SET', 'k', 'v'), 'OK')
  t.equal(await call('GET', 'k'), 'v')
  const socket = client.socket as tls.TLSSocket
  t.ok(socket.encrypted, 'the connection is TLS')
  t.equal(socket.getPeerCertificate().serialNumber, f.node.serial, 'the node\'s certificate')
  t.same(await call('CONFIG', 'GET', 'tls-*'), [
    'tls-cert-file', f.node.cert, 'tls-key-file', f.node.key, 'tls-ca-cert-file', f.ca, 'tls-auth-clients', 'no'
  ], 'CONFIG GET lists the tls options')
})

t.test('a plaintext client on a TLS port is dropped at once, without a reply, and logged at debug', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f))
  const raw = await rawConnect(t, node.address())
  raw.send('PING\r\n')
  await raw.waitClosed(2000)
  t.equal(raw.text, '', 'not one byte of a reply (nor of a TLS alert a client could read as one)')
  await waitFor(() => lines.some(l => l.includes('plaintext client')), 2000, 'the log line')
  const drops = lines.filter(l => / debug plaintext client 127\.0\.0\.1:\d+ dropped: this port speaks TLS only/.test(l))
  t.equal(drops.length, 1, 'a debug line names the client')
  t.match(drops[0], /^\S+ debug plaintext client \S+ dropped: this port speaks TLS only \([a-z][^:\n]*\)\n$/, 'one line with OpenSSL\'s reason alone')
  t.ok(lines.every(l => l.indexOf('\n') === l.length - 1), 'every log event is exactly one line')
  const inline = await rawConnect(t, node.address())
  inline.send('*1\r\n$4\r\nPING\r\n')
  await inline.waitClosed(2000)
  t.equal(inline.text, '', 'RESP arrays too')
  t.equal(await caller(await connectTls(t, node.address(), f.ca))('PING'), 'PONG', 'TLS clients are still served')
})

t.test('connections in their TLS handshake count towards maxclients: beyond it they are dropped at once', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f, { maxclients: 2 }))
  const first = caller(await connectTls(t, node.address(), f.ca))
  t.equal(await first('PING'), 'PONG')
  const second = await connectTls(t, node.address(), f.ca)
  t.equal(plain(await second.call(['PING'])), 'PONG', 'an accepted connection no longer counts as handshaking')
  second.close()
  await waitFor(() => node.server.connections.size === 1, 2000, 'the second to close')
  const silent = await rawConnect(t, node.address()) // TCP up, handshake never started: holds the second slot
  const started = Date.now()
  const err = await RespClient.connect({ ...node.address(), tls: { ca: readFileSync(f.ca) } }).then(c => { c.close(); return null }, (e: Error) => e)
  t.ok(err instanceof Error, 'a third is dropped')
  t.ok(Date.now() - started < 2000, 'at once, not after the handshake timeout')
  t.equal(node.stats.rejectedConnections, 1)
  t.ok(lines.some(l => / debug TLS client 127\.0\.0\.1:\d+ dropped before its handshake: maxclients reached/.test(l)), 'logged at debug')
  silent.socket.destroy()
  const pingNew = async (): Promise<boolean> => {
    try {
      return plain(await (await connectTls(t, node.address(), f.ca)).call(['PING'])) === 'PONG'
    } catch {
      return false
    }
  }
  await waitFor(pingNew, 2000, 'the slot to be free again')
  t.pass('a slot freed by a handshaking connection is taken again')
})

t.test('a TLS client that does not trust the node\'s CA is refused on its side, with the reason', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const err = await RespClient.connect({ ...node.address(), tls: { ca: readFileSync(f.otherCa) } }).then(() => null, (e: Error) => e)
  t.match(err?.message, /^TLS: the certificate of 127\.0\.0\.1:\d+ is not trusted: \w+/)
})

t.test('half-close over TLS: every reply comes, then the node closes', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  // allowHalfOpen reaches the TCP socket; tls.connect's type leaves it out.
  const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = { ...node.address(), ca: readFileSync(f.ca), allowHalfOpen: true }
  const socket = tls.connect(options)
  t.teardown(() => socket.destroy())
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve())
    socket.on('error', reject)
  })
  socket.once('secureConnect', () => socket.end('SET a b\r\nGET a\r\nDEL a\r\n'))
  await closed
  t.equal(Buffer.concat(chunks).toString('latin1'), '+OK\r\n$1\r\nb\r\n:1\r\n')
})

t.test('--tls-auth-clients yes: a client without a certificate, or with one from another CA, is refused; one with a certificate is served', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f, { tlsAuthClients: 'yes' }))
  const bare = await connectTls(t, node.address(), f.ca)
  const reply = await bare.call(['PING']).catch((e: Error) => e)
  t.equal(String(reply), 'ERR TLS: connection refused: no client certificate (tls-auth-clients yes)', 'the reason, as the reply to its first command')
  await waitFor(() => bare.closed, 2000, 'the refused connection to close')
  t.ok(lines.some(l => / debug TLS client 127\.0\.0\.1:\d+ refused: no client certificate/.test(l)))
  const stranger = await connectTls(t, node.address(), f.ca, f.other)
  t.match(String(await stranger.call(['PING']).catch((e: Error) => e)), /^ERR TLS: connection refused: its certificate does not verify against tls-ca-cert-file \(\w+/)
  const good = caller(await connectTls(t, node.address(), f.ca, f.client))
  t.equal(await good('PING'), 'PONG')
  t.equal(node.stats.rejectedConnections, 2)
})

t.test('--tls-auth-clients optional: no certificate is fine, a bad one is not', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f, { tlsAuthClients: 'optional' }))
  t.equal(await caller(await connectTls(t, node.address(), f.ca))('PING'), 'PONG', 'no certificate')
  t.equal(await caller(await connectTls(t, node.address(), f.ca, f.client))('PING'), 'PONG', 'one that verifies')
  const stranger = await connectTls(t, node.address(), f.ca, f.other)
  t.match(String(await stranger.call(['PING']).catch((e: Error) => e)), /does not verify against tls-ca-cert-file/, 'one that does not')
  const call = caller(await connectTls(t, node.address(), f.ca))
  t.equal(await call('CONFIG', 'SET', 'tls-auth-clients', 'yes'), 'OK', 'live')
  const bare = await connectTls(t, node.address(), f.ca)
  t.match(String(await bare.call(['PING']).catch((e: Error) => e)), /no client certificate/, 'the next connection needs one')
  t.equal(await call('PING'), 'PONG', 'connections already open stay')
})

t.test('--tls-auth-clients no (the default): a client with no certificate may not speak as a peer', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f))
  const call = caller(await connectTls(t, node.address(), f.ca))
  const refused = await call('GOSSIP', '127.0.0.1:1', 'a'.repeat(40), 'up')
  t.equal(String(refused), "ERR 'GOSSIP' is for peers whose TLS certificate verifies against tls-ca-cert-file: it presented no client certificate")
  t.match(String(await call('JOIN', '127.0.0.1:1')), /^ERR 'JOIN' is for peers whose TLS certificate/)
  t.equal(node.cluster.members.size, 0, 'no member was added')
  t.ok(lines.some(l => / warn refused GOSSIP from 127\.0\.0\.1:\d+: it presented no client certificate/.test(l)), 'logged')
  t.equal(await call('GET', 'k'), null, 'the connection is still a client')
  const peer = caller(await connectTls(t, node.address(), f.ca, f.node))
  t.ok(Array.isArray(await peer('GOSSIP', '127.0.0.1:1', 'a'.repeat(40), 'up')), 'a node certificate from the CA may')
})

t.test('a client certificate (clientAuth only) is served as a client under tls-auth-clients yes, and refused as a peer', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f, { tlsAuthClients: 'yes' }))
  const call = caller(await connectTls(t, node.address(), f.ca, f.client))
  t.equal(await call('SET', 'k', 'v'), 'OK', 'a client')
  const why = "its certificate is not a node's (its extended key usage lacks serverAuth)"
  t.equal(String(await call('GOSSIP', '127.0.0.1:1', 'a'.repeat(40), 'up')), `ERR 'GOSSIP' is for peers whose TLS certificate verifies against tls-ca-cert-file: ${why}`)
  t.equal(String(await call('JOIN', '127.0.0.1:1')), `ERR 'JOIN' is for peers whose TLS certificate verifies against tls-ca-cert-file: ${why}`)
  t.match(String(await call('MREPL', 'k', '1', '0', 'a'.repeat(40), '0', 'forged')), /^ERR /, 'so no MREPL either')
  t.equal(await call('GET', 'k'), 'v', 'nothing forged')
  t.equal(node.cluster.members.size, 0, 'no member was added')
  t.ok(lines.some(l => / warn refused GOSSIP from 127\.0\.0\.1:\d+: its certificate is not a node's/.test(l)), 'logged at warn')
  t.equal(await call('GET', 'k'), 'v', 'still a client')
})

t.test('TLS on and /metrics on a non-loopback address: a start-up warning that it is plaintext', { skip }, async t => {
  const f = fixture()
  const { lines } = await startLoggedNode(t, tlsOptions(f, { host: '0.0.0.0', metricsPort: 0, advertise: '127.0.0.1:1' }))
  t.ok(lines.some(l => / warn metrics on http:\/\/0\.0\.0\.0:\d+\/metrics are served in plaintext/.test(l)))
  const { lines: local } = await startLoggedNode(t, tlsOptions(f, { metricsPort: 0 }))
  t.notOk(local.some(l => / warn metrics on/.test(l)), 'not on 127.0.0.1')
})

t.test('ioredis with tls: { ca }', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const { host, port } = node.address()
  const redis = new Redis({ host, port, tls: { ca: readFileSync(f.ca) }, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  t.teardown(() => redis.status === 'end' ? undefined : redis.quit().catch(() => redis.disconnect()))
  redis.on('error', () => {})
  await redis.connect()
  t.equal(await redis.set('k', 'v'), 'OK')
  t.equal(await redis.get('k'), 'v')
  t.equal(await redis.incr('n'), 1)
})

/** Whether redis-cli is installed and built with TLS (Debian's is). */
function redisCliTls (): string | false {
  const help = spawnSync('redis-cli', ['--help'], { encoding: 'utf8' })
  if (help.error !== undefined) return 'redis-cli is not installed (apt-get install redis-tools)'
  return /--tls\b/.test(help.stdout + help.stderr) ? false : 'this redis-cli was built without TLS'
}

t.test('redis-cli --tls --cacert', { skip: skip !== false ? skip : redisCliTls() }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const { host, port } = node.address()
  // Not spawnSync: the node runs in this process, and must be free to answer.
  const run = async (args: string[]): Promise<{ out: string, code: number | null }> => await new Promise(resolve => {
    execFile('redis-cli', ['-h', host, '-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 }, (err, stdout, stderr) => {
      resolve({ out: stdout + stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : null })
    })
  })
  const tlsArgs = ['--tls', '--cacert', f.ca]
  t.same(await run([...tlsArgs, 'SET', 'k', 'v']), { out: 'OK\n', code: 0 })
  t.same(await run([...tlsArgs, 'GET', 'k']), { out: 'v\n', code: 0 })
  const plaintext = await run(['PING'])
  t.notMatch(plaintext.out, /PONG/, 'without --tls: no reply')
  t.not(plaintext.code, 0, 'and a failure')
})

t.test('start-up: a certificate without its key is a TypeError; an unusable file is a clear error', { skip }, async t => {
  const f = fixture()
  t.throws(() => new KeystoneNode({ dataDir: '', tlsCertFile: f.node.cert }), new TypeError('tls-cert-file and tls-key-file go together: give both or neither'))
  t.throws(() => new KeystoneNode({ dataDir: '', tlsKeyFile: f.node.key }), TypeError)
  t.throws(() => new KeystoneNode({ dataDir: '', ...tlsOptions(f), tlsCaCertFile: '', tlsAuthClients: 'yes' }), /tls-auth-clients yes needs tls-ca-cert-file/)
  const missing = (() => { try { return new KeystoneNode({ dataDir: '', ...tlsOptions(f), tlsCertFile: '/nonexistent.pem' }) } catch (e) { return e } })()
  t.ok(missing instanceof KeystoneError)
  t.match((missing as Error).message, /^cannot read tls-cert-file \/nonexistent\.pem: ENOENT/)
  t.throws(() => new KeystoneNode({ dataDir: '', ...tlsOptions(f), tlsKeyFile: f.client.key }), /do not go together/, 'a key of another certificate')
  t.throws(() => new KeystoneNode({ dataDir: '', ...tlsOptions(f), tlsCertFile: f.node.key }), /holds no PEM certificate/, 'a key where the certificate goes')
})

t.test('a plain TCP node is untouched: no TLS, and a TLS client fails with a clear message', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, {})
  const err = await RespClient.connect({ ...node.address(), tls: { ca: readFileSync(f.ca) }, connectTimeoutMs: 2000 }).then(() => null, (e: Error) => e)
  t.match(err?.message, /^TLS handshake with 127\.0\.0\.1:\d+ failed: /)
  const plainClient = await RespClient.connect(node.address())
  t.teardown(() => plainClient.close())
  t.equal(plain(await plainClient.call(['PING'])), 'PONG')
  t.notOk(plainClient.socket instanceof tls.TLSSocket)
  t.ok(plainClient.socket instanceof net.Socket)
  const turnOn = await plainClient.call(['CONFIG', 'SET', 'tls-cert-file', f.node.cert, 'tls-key-file', f.node.key])
  t.ok(turnOn instanceof RespError)
  t.equal(String(turnOn), "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - TLS is off on this node (started without tls-cert-file and tls-key-file); restart it with them to turn TLS on")
  t.same(plain(await plainClient.call(['CONFIG', 'GET', 'tls-cert-file'])), ['tls-cert-file', ''], 'nothing changed')
  t.equal(plain(await plainClient.call(['CONFIG', 'SET', 'tls-cert-file', ''])), 'OK', 'its own value is fine')
})

t.test('keystone-server: TLS start-up errors exit with a clear line (2: bad options, 1: unusable files)', { skip }, async t => {
  const f = fixture()
  const half = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', '', '--tls-cert-file', f.node.cert])
  t.same({ code: half.code, stderr: half.stderr }, { code: 2, stderr: 'keystone-server: tls-cert-file and tls-key-file go together: give both or neither\n' })
  const auth = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', '', '--tls-cert-file', f.node.cert, '--tls-key-file', f.node.key, '--tls-auth-clients', 'maybe'])
  t.same({ code: auth.code, stderr: auth.stderr }, { code: 2, stderr: "keystone-server: --tls-auth-clients must be one of yes, no, optional, got 'maybe'\n" })
  const missing = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', '', '--tls-cert-file', f.node.cert, '--tls-key-file', '/nonexistent/key.pem'])
  t.same({ code: missing.code, stderr: missing.stderr }, { code: 1, stderr: "keystone-server: cannot read tls-key-file /nonexistent/key.pem: ENOENT: no such file or directory, open '/nonexistent/key.pem'\n" })
})
