import t from 'tap'
import { KeystoneNode } from '../../lib/node.js'
import { createLogger } from '../../lib/log.js'
import { FLAGS } from '../../lib/options.js'
import { caller, configSetFailed, connect, rawConnect, startNode, tempDir, waitFor } from '../helpers/server.js'
import { exactSession } from '../helpers/exact.js'
import { seesAllUp, startCluster } from '../helpers/cluster.js'

// CONFIG GET * and CONFIG SET of the options that change at run time (each
// option's `live` entry in lib/options.ts; PROTOCOL.md §CONFIG).

const failed = (name: string, why: string): string => `-${configSetFailed(name, why)}\r\n`

t.test('CONFIG GET * lists every option with its value, then Redis\'s names', async t => {
  const node = await startNode(t, { maxclients: 77, requirepass: '' })
  const call = caller(await connect(t, node))
  const all = await call('CONFIG', 'GET', '*') as string[]
  const names = all.filter((_, i) => i % 2 === 0)
  const expected = FLAGS.filter(f => f.notInFile !== true).map(f => f.flag)
  t.same(names.slice(0, expected.length), expected, 'every option by its flag name, in the table\'s order')
  t.same(names.slice(expected.length), ['bind', 'proto-max-bulk-len', 'proto-inline-max-size', 'proto-max-multibulk-len', 'databases', 'save', 'appendonly', 'appendfsync', 'dir'])
  const value = (name: string): string | undefined => all[all.indexOf(name) + 1]
  t.equal(value('maxclients'), '77')
  t.equal(value('port'), String(node.address().port), 'port: the one listened on')
  t.equal(value('persist'), 'yes', 'booleans as yes/no')
  t.equal(value('join'), '', 'unset: empty')
  t.equal(value('log-format'), 'text')
  t.same(await call('CONFIG', 'GET', 'client-output-*'), ['client-output-soft-limit', '1048576', 'client-output-hard-limit', '268435456'])
})

t.test('CONFIG SET requirepass: new clients need the new password; open connections stay authenticated', async t => {
  const node = await startNode(t)
  const admin = caller(await connect(t, node))
  const before = caller(await connect(t, node))
  t.equal(await admin('CONFIG', 'SET', 'requirepass', 'sesame'), 'OK')
  t.equal(await before('GET', 'k'), null, 'a connection opened before is still in')
  const fresh = caller(await connect(t, node))
  t.equal(String(await fresh('GET', 'k')), 'NOAUTH Authentication required.')
  t.match(String(await fresh('AUTH', 'other')), /^WRONGPASS/)
  t.equal(await fresh('AUTH', 'sesame'), 'OK')
  t.equal(node.cluster.password, 'sesame', 'peer links dialled from now on use it')
  t.same(await admin('CONFIG', 'GET', 'requirepass'), ['requirepass', 'sesame'])
  t.equal(await admin('CONFIG', 'SET', 'requirepass', ''), 'OK', 'and off again')
  t.equal(await caller(await connect(t, node))('GET', 'k'), null, 'no password needed')
})

t.test('CONFIG SET loglevel: the logger filters at the new level from the next line', async t => {
  const lines: string[] = []
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: createLogger('info', line => lines.push(line)) })
  t.teardown(() => node.close())
  await node.start()
  const call = caller(await connect(t, node))
  const protocolError = async (): Promise<void> => {
    const raw = await rawConnect(t, node)
    raw.socket.write('*abc\r\n')
    await waitFor(() => raw.closed, 5000, 'the protocol error to close the connection')
  }
  await protocolError()
  t.notOk(lines.some(l => l.includes(' debug ')), 'no debug lines at info')
  t.equal(await call('CONFIG', 'SET', 'loglevel', 'debug'), 'OK')
  await protocolError()
  t.ok(lines.some(l => / debug client .*protocol error/.test(l)), 'debug lines once it is debug')
  t.same(await call('CONFIG', 'GET', 'loglevel'), ['loglevel', 'debug'])
})

t.test('CONFIG SET client output limits, checked together', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['CONFIG', 'SET', 'client-output-soft-limit', '2048', 'client-output-hard-limit', '4096'], '+OK\r\n')
  t.equal(node.options.clientOutputSoftLimit, 2048)
  t.equal(node.options.clientOutputHardLimit, 4096)
  await x(['CONFIG', 'SET', 'client-output-hard-limit', '1024'], failed('client-output-hard-limit', 'client-output-hard-limit must not be below client-output-soft-limit'))
  t.equal(node.options.clientOutputHardLimit, 4096, 'nothing changed')
})

t.test('CONFIG SET fsync (or appendfsync) switches the log\'s policy', async t => {
  const node = await startNode(t, { dataDir: tempDir(t) })
  const call = caller(await connect(t, node))
  t.equal(await call('CONFIG', 'SET', 'appendfsync', 'always'), 'OK')
  t.match(await call('INFO', 'persistence'), /aof_fsync:always\r\n/)
  t.equal(node.cluster.durableAfterMs, 0, 'peers\' acknowledgements count at once, as at a start with --fsync always')
  t.equal(await call('SET', 'k', 'v'), 'OK', 'a write is answered after its fdatasync')
  t.equal(await call('CONFIG', 'SET', 'fsync', 'no'), 'OK')
  t.same(await call('CONFIG', 'GET', 'fsync', 'appendfsync'), ['fsync', 'no', 'appendfsync', 'no'])
  t.ok(node.cluster.durableAfterMs > 0)
  t.equal(await call('SET', 'k', 'w'), 'OK')
  t.equal(await call('GET', 'k'), 'w')
})

t.test('CONFIG SET errors in Redis\'s words', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['CONFIG', 'SET', 'loglevel', 'loud'], failed('loglevel', 'argument(s) must be one of the following: debug, info, warn, error'))
  await x(['CONFIG', 'SET', 'appendfsync', 'sometimes'], failed('appendfsync', 'argument(s) must be one of the following: always, everysec, no'))
  await x(['CONFIG', 'SET', 'tls-cert-file', '/x.pem'], failed('tls-cert-file', 'tls-cert-file and tls-key-file go together: give both or neither'))
  await x(['CONFIG', 'SET', 'tls-cert-file', '/x.pem', 'tls-key-file', '/x.key'], failed('tls-cert-file', 'TLS is off on this node (started without tls-cert-file and tls-key-file); restart it with them to turn TLS on'))
  await x(['CONFIG', 'SET', 'tls-auth-clients', 'sometimes'], failed('tls-auth-clients', 'argument(s) must be one of the following: yes, no, optional'))
  await x(['CONFIG', 'SET', 'persist', 'no'], failed('persist', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'log-format', 'json'], failed('log-format', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'bind', '0.0.0.0'], failed('bind', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'config', '/etc/k.conf'], failed('config', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'fsync', 'always', 'appendfsync', 'no'], failed('appendfsync', 'duplicate parameter'), 'a name and its Redis name are one option')
  await x(['CONFIG', 'REWRITE'], '-ERR The server is running without a config file\r\n')
  await x(['CONFIG', 'REWRITE', 'now'], "-ERR wrong number of arguments for 'config|rewrite' command\r\n")
})

t.test('each option is settable exactly when its table entry says so', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  for (const spec of FLAGS) {
    if (spec.notInFile === true) continue
    const current = (await call('CONFIG', 'GET', spec.flag) as string[])[1] as string
    const reply = await call('CONFIG', 'SET', spec.flag, spec.key === 'port' ? '0' : current)
    if (spec.live === undefined) t.match(String(reply), /can't set immutable config$/, `${spec.flag}: fixed at start-up`)
    else t.equal(reply, 'OK', `${spec.flag}: set to its own value`)
  }
})

t.test('CONFIG SET requirepass on every node of a cluster: links stay up, writes still replicate', async t => {
  const nodes = await startCluster(t, 2, { requirepass: 'old' })
  const [a, b] = nodes as [KeystoneNode, KeystoneNode]
  for (const node of nodes) {
    const call = caller(await connect(t, node))
    t.equal(await call('AUTH', 'old'), 'OK')
    t.equal(await call('CONFIG', 'SET', 'requirepass', 'new'), 'OK')
  }
  t.ok(seesAllUp(a, nodes) && seesAllUp(b, nodes), 'the authenticated peer links stay up')
  const call = caller(await connect(t, a))
  t.equal(await call('AUTH', 'new'), 'OK')
  t.equal(await call('SET', 'k', 'v'), 'OK')
  const atB = caller(await connect(t, b))
  t.equal(await atB('AUTH', 'new'), 'OK')
  t.equal(await atB('GET', 'k'), 'v', 'replicated (G1) over the links made before the change')
  t.equal(a.cluster.password, 'new', 'links dialled from now on use the new password')
})
