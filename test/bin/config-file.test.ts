import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { caller, connect, rawConnect, runBin, spawnServer, tempDir, waitFor, type Teardown } from '../helpers/server.js'

// bin/keystone-server with a config file (README.md §Config file), the real
// binary: the file's format, its precedence below the environment and flags,
// each kind of bad line, CONFIG REWRITE back into it, and --log-format json.
t.jobs = 2

/** A config file with `text` in a fresh temporary directory. */
function configFile (t: Teardown, text: string, name = 'keystone.conf'): string {
  const file = path.join(tempDir(t), name)
  writeFileSync(file, text)
  return file
}

/** Pairs of a CONFIG GET reply as an object. */
function pairs (reply: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const list = reply as string[]
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1] as string
  return out
}

t.test('a file with comments and quoted values, as the first argument or --config', async t => {
  const file = configFile(t, [
    '# Keystone test config',
    '   # an indented comment, then an empty line',
    '',
    'port 0',
    'data-dir ""',
    'requirepass "two words and a \\"quote\\""',
    "MAXCLIENTS '42'",
    'tcp-keepalive 30\r',
    'persist no',
    'timeout 5',
    'timeout 9',
    ''
  ].join('\n'))
  for (const args of [[file], ['--config', file]]) {
    const server = await spawnServer(t, args)
    const call = caller(await connect(t, server))
    t.match(String(await call('PING')), /^NOAUTH/, `${args[0] as string}: the file's password is required`)
    t.equal(await call('AUTH', 'two words and a "quote"'), 'OK', 'double quotes with escapes')
    const got = pairs(await call('CONFIG', 'GET', 'maxclients', 'tcp-keepalive', 'timeout', 'persist', 'data-dir', 'config'))
    t.same(got, { maxclients: '42', 'tcp-keepalive': '30', timeout: '9', persist: 'no', 'data-dir': '' },
      'single quotes, any case of name, CRLF line ends, the last of a repeated name; the file itself is no option')
    server.process.kill('SIGTERM')
    await server.exited
  }
})

t.test('the environment overrides the file, and flags override both', async t => {
  const file = configFile(t, 'port 0\ndata-dir ""\nrequirepass from-file\nmaxclients 11\ntimeout 7\ntcp-keepalive 20\n')
  const server = await spawnServer(t, [file, '--maxclients', '13'], {
    KEYSTONE_REQUIREPASS: 'from-env',
    KEYSTONE_MAXCLIENTS: '12',
    KEYSTONE_TCP_KEEPALIVE: '21'
  })
  const call = caller(await connect(t, server))
  t.match(String(await call('AUTH', 'from-file')), /^WRONGPASS/, 'the environment beat the file')
  t.equal(await call('AUTH', 'from-env'), 'OK')
  t.same(pairs(await call('CONFIG', 'GET', 'maxclients', 'timeout', 'tcp-keepalive')), { maxclients: '13', timeout: '7', 'tcp-keepalive': '21' },
    'flag > environment > file')
  t.same(pairs(await call('CONFIG', 'GET', 'persist')), { persist: 'yes' }, 'what none of them sets keeps its default')
})

t.test('a bad line stops start-up with file:line: reason and exit code 1', async t => {
  const cases: Array<[string, RegExp]> = [
    ['nosuch 1', /:3: unknown option 'nosuch'$/m],
    ['maxclients', /:3: 'maxclients' needs a value$/m],
    ['maxclients abc', /:3: maxclients must be an integer, got 'abc'$/m],
    ['maxclients 0', /:3: maxclients must be an integer from 1 to 4294967295, got '0'$/m],
    ['fsync sometimes', /:3: fsync must be one of always, everysec, no, got 'sometimes'$/m],
    ['join nowhere', /:3: join must be HOST:PORT, got 'nowhere'$/m],
    ['persist maybe', /:3: persist must be yes or no, got 'maybe'$/m],
    ['requirepass "open', /:3: unbalanced quotes$/m],
    ['port 0 # a comment', /:3: 'port' takes one value, got 4 \(quote a value with spaces; a comment needs a line of its own\)$/m],
    ['config other.conf', /:3: unknown option 'config'$/m]
  ]
  const files = cases.map(([line]) => configFile(t, `# line 1\nport 0\n${line}\ndata-dir ""\n`))
  // Two at a time: each is a Node start-up, and the machine may be busy.
  const runs: Array<Awaited<ReturnType<typeof runBin>>> = []
  for (let i = 0; i < files.length; i += 2) {
    runs.push(...await Promise.all(files.slice(i, i + 2).map(file => runBin(t, 'keystone-server', [file], { timeoutMs: 30000 }))))
  }
  runs.forEach(({ code, stderr }, i) => {
    const [line, reason] = cases[i] as [string, RegExp]
    t.equal(code, 1, `${line}: exit code 1`)
    t.ok(stderr.startsWith(`keystone-server: ${files[i] as string}:3: `), `${line}: names the file and line: ${stderr.trim()}`)
    t.match(stderr, reason, line)
    t.notMatch(stderr, /listening on/)
  })
  const missing = await runBin(t, 'keystone-server', [path.join(tempDir(t), 'nope.conf')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^keystone-server: .*nope\.conf: cannot read the config file: ENOENT/)
  const both = await runBin(t, 'keystone-server', [files[0] as string, '--config', files[0] as string])
  t.equal(both.code, 2, 'a file given twice is a usage error')
})

t.test('CONFIG REWRITE writes the file back, and a restart reads what it wrote', async t => {
  const original = [
    '# Keystone test config: this comment stays',
    'port 0',
    'data-dir ""',
    '',
    '# clients',
    'maxclients 50',
    'timeout 3',
    'maxclients 60',
    '# the end'
  ].join('\n') + '\n'
  const file = configFile(t, original)
  const server = await spawnServer(t, [file, '--tcp-keepalive', '25'])
  const call = caller(await connect(t, server))
  t.equal(await call('CONFIG', 'SET', 'maxclients', '70', 'requirepass', 'new pass'), 'OK')
  t.equal(await call('CONFIG', 'SET', 'loglevel', 'warn'), 'OK')
  t.equal(await call('CONFIG', 'REWRITE'), 'OK')
  const rewritten = readFileSync(file, 'utf8')
  t.equal(rewritten, [
    '# Keystone test config: this comment stays',
    'port 0',
    'data-dir ""',
    '',
    '# clients',
    'maxclients 70',
    'timeout 3',
    '# the end',
    '',
    '# Generated by CONFIG REWRITE',
    'requirepass "new pass"',
    'tcp-keepalive 25',
    'loglevel warn'
  ].join('\n') + '\n', 'lines rewritten in place, the repeated one dropped, new ones appended')
  t.equal(await call('CONFIG', 'REWRITE'), 'OK', 'again')
  t.equal(readFileSync(file, 'utf8'), rewritten, 'a second rewrite changes nothing (one signature)')
  server.process.kill('SIGTERM')
  await server.exited

  const again = await spawnServer(t, [file])
  const call2 = caller(await connect(t, again))
  t.equal(await call2('AUTH', 'new pass'), 'OK', 'the quoted password reads back')
  t.same(pairs(await call2('CONFIG', 'GET', 'maxclients', 'timeout', 'tcp-keepalive', 'loglevel')), { maxclients: '70', timeout: '3', 'tcp-keepalive': '25', loglevel: 'warn' })
})

t.test('--log-format json: one JSON object per line with time, level, msg and fields', async t => {
  const server = await spawnServer(t, ['--port', '0', '--data-dir', '', '--log-format', 'json'])
  const client = await connect(t, server)
  t.equal(await client.call(['CONFIG', 'SET', 'loglevel', 'debug']), 'OK')
  // A protocol error is logged at debug level: it shows that the new level took effect at once.
  const raw = await rawConnect(t, server)
  raw.socket.write('*abc\r\n')
  await waitFor(() => server.stderr.includes('protocol error'), 5000, 'the debug line')
  server.process.kill('SIGTERM')
  await server.exited
  const lines = server.stderr.trimEnd().split('\n')
  const parsed = lines.map(line => JSON.parse(line) as Record<string, unknown>)
  for (const entry of parsed) {
    t.match(entry, { time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, level: /^(debug|info|warn|error)$/, msg: String })
  }
  const listening = parsed.find(e => typeof e.msg === 'string' && e.msg.includes('listening on'))
  t.match(listening, { level: 'info', host: '127.0.0.1', port: server.port, dataDir: null }, 'the listening line carries its fields')
  t.ok(parsed.some(e => e.level === 'debug' && String(e.msg).includes('protocol error')), 'debug lines after CONFIG SET loglevel debug')
  t.ok(parsed.some(e => e.msg === 'bye'), 'to the last line')
})

t.test('the default log format stays text', async t => {
  const server = await spawnServer(t, ['--port', '0', '--data-dir', ''])
  t.match(server.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z info node [0-9a-f]+ listening on 127\.0\.0\.1:\d+, advertised as [^ ]+, data in memory only\n/)
})
