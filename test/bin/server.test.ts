import net from 'node:net'
import t from 'tap'
import { caller, connect, runBin, spawnServer, type Teardown } from '../helpers/server.js'

// bin/keystone-server, the real binary, as a child process. Port 0 only: the
// default port (1989 and its fallbacks) is the acceptance suite's business.
// Each test has its own processes and ports, so they run side by side.
t.jobs = 4

/** A port held by a listener of ours for the rest of the test. */
async function busyPort (t: Teardown): Promise<number> {
  const server = net.createServer()
  t.teardown(() => server.close())
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

t.test('--help prints the usage and exits 0', async t => {
  const flags = ['--help', '-h']
  const runs = await Promise.all(flags.map(flag => runBin(t, 'keystone-server', [flag])))
  runs.forEach(({ code, stdout }, i) => {
    const flag = flags[i] as string
    t.equal(code, 0, flag)
    t.match(stdout, /^Usage: keystone-server \[options\]/)
    for (const option of ['--host', '--port', '--advertise', '--join', '--data-dir', '--requirepass']) {
      t.match(stdout, option, `${flag} mentions ${option}`)
    }
    t.match(stdout, /KEYSTONE_PORT/, 'mentions the environment')
  })
})

t.test('an unknown flag exits non-zero with a message', async t => {
  const { code, stdout, stderr } = await runBin(t, 'keystone-server', ['--port', '0', '--frobnicate'])
  t.not(code, 0)
  t.match(stderr, /unknown argument '--frobnicate'/)
  t.notMatch(stderr, /listening on/)
  t.equal(stdout, '')
})

t.test('a bad option value exits non-zero with a message', async t => {
  const cases = [
    [['--port', 'abc'], /--port must be a non-negative integer, got 'abc'/],
    [['--port', '0', '--join', 'nowhere'], /--join must be HOST:PORT, got 'nowhere'/]
  ] as const
  const runs = await Promise.all(cases.map(([args]) => runBin(t, 'keystone-server', [...args])))
  runs.forEach(({ code, stderr }, i) => {
    const [args, message] = cases[i] as typeof cases[number]
    t.not(code, 0, args.join(' '))
    t.match(stderr, message)
    t.notMatch(stderr, /listening on/)
  })
})

t.test('--port 0 listens on an ephemeral port and serves', async t => {
  const server = await spawnServer(t, ['--port', '0'])
  t.equal(server.host, '127.0.0.1')
  t.ok(server.port > 0 && server.port !== 1989)
  t.match(server.stderr, new RegExp(`listening on 127\\.0\\.0\\.1:${server.port}\\b`))
  t.equal(server.stderr.match(/listening on/g)?.length, 1, 'one listening line')
  const call = caller(await connect(t, server))
  t.equal(await call('SET', 'k', 'v'), 'OK')
  t.equal(await call('GET', 'k'), 'v')
  t.match(String(await call('INFO', 'server')), `process_id:${String(server.process.pid)}\r\n`, 'it is that process')
})

t.test('an explicitly busy --port exits non-zero with a clear message', async t => {
  const port = await busyPort(t)
  const { code, stderr } = await runBin(t, 'keystone-server', ['--port', String(port)])
  t.not(code, 0)
  t.match(stderr, `port ${port} on 127.0.0.1 is already in use`)
  t.notMatch(stderr, /listening on/)
})

t.test('KEYSTONE_PORT and KEYSTONE_REQUIREPASS', async t => {
  const server = await spawnServer(t, [], { KEYSTONE_PORT: '0', KEYSTONE_REQUIREPASS: 'from-env' })
  t.ok(server.port > 0 && server.port !== 1989, 'KEYSTONE_PORT=0 gives an ephemeral port')
  const call = caller(await connect(t, server))
  t.equal(String(await call('GET', 'k')), 'NOAUTH Authentication required.', 'the password is required')
  t.equal(await call('AUTH', 'from-env'), 'OK')
  t.equal(await call('GET', 'k'), null)
})

t.test('a flag wins over the environment', async t => {
  const port = await busyPort(t)
  // Were the environment to win, the busy port would make it fail.
  const server = await spawnServer(t, ['--port', '0', '--requirepass', 'from-flag'], {
    KEYSTONE_PORT: String(port),
    KEYSTONE_REQUIREPASS: 'from-env'
  })
  t.not(server.port, port)
  const call = caller(await connect(t, server))
  t.match(String(await call('AUTH', 'from-env')), /^WRONGPASS/)
  t.equal(await call('AUTH', 'from-flag'), 'OK')
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} stops it with exit code 0`, async t => {
    const server = await spawnServer(t, ['--port', '0'])
    const client = await connect(t, server)
    t.equal(await client.call(['SET', 'k', 'v']), 'OK')
    const closed = new Promise<void>(resolve => { client.onClose = () => resolve() })
    server.process.kill(signal)
    const { code, signal: killedBy } = await server.exited
    t.equal(code, 0)
    t.equal(killedBy, null)
    await closed
    t.pass('clients are disconnected')
    const refused = await connect(t, server).then(() => 'connected', (err: NodeJS.ErrnoException) => err.code)
    t.equal(refused, 'ECONNREFUSED', 'nothing listens any more')
  })
}
