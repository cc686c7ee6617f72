import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { memberStates, waitConverged } from '../helpers/cluster.js'
import { caller, connect, freePort, spawnServer, startNode, waitFor, type Address } from '../helpers/server.js'

// PROTOCOL.md §Joining, §Failure detection, §MEMBERS: how a node sees itself
// and its peers come and go.

const addr = (a: Address): string => `${a.host}:${a.port}`

t.test('a node whose seed does not listen yet is joining while it retries, and joins once the seed is up', async t => {
  const seedPort = await freePort()
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', join: `127.0.0.1:${seedPort}` }, { log: silentLogger })
  t.teardown(() => node.close())
  let started = false
  const starting = node.start().then(() => { started = true })
  starting.catch(() => {}) // awaited below
  await waitFor(() => node.cluster.advertise !== '', 2000, 'the node to listen')
  const self = node.cluster.advertise
  const call = caller(await connect(t, node))
  const lines = await call('MEMBERS') as string[]
  t.equal(lines.length, 1, 'only itself')
  t.match(lines[0], new RegExp(`^${self.replace(/\./g, '\\.')} joining self id=${node.nodeId} digest=0{16}$`), 'itself, joining, with its (empty) root digest')
  t.notOk(started, 'start() waits for the join')
  const seed = await startNode(t, { port: seedPort })
  await starting
  t.ok(started, 'start() resolves once the seed answers')
  await waitConverged([seed, node])
  const after = await memberStates(await connect(t, node))
  t.equal(after.get(self), 'up', 'then up')
  t.equal(after.get(seed.cluster.advertise), 'up')
})

t.test('a paused peer is down within 2 s of SIGSTOP, and up within 2 s of SIGCONT (default timing)', async t => {
  const a = await startNode(t)
  const watch = await connect(t, a)
  const b = await spawnServer(t, ['--port', '0', '--data-dir', '', '--join', a.cluster.advertise])
  t.teardown(() => { b.process.kill('SIGCONT') })
  await waitFor(async () => (await memberStates(watch)).get(addr(b)) === 'up', 5000, 'B up at A')
  const stateOfB = async (): Promise<string | undefined> => (await memberStates(watch)).get(addr(b))

  b.process.kill('SIGSTOP')
  const stopped = Date.now()
  await waitFor(async () => (await stateOfB()) === 'down', 4000, 'B down at A')
  const downAfter = Date.now() - stopped
  t.ok(downAfter <= 2000, `listed down ${downAfter} ms after SIGSTOP`)

  b.process.kill('SIGCONT')
  const resumed = Date.now()
  await waitFor(async () => (await stateOfB()) === 'up', 4000, 'B up again at A')
  const upAfter = Date.now() - resumed
  t.ok(upAfter <= 2000, `listed up ${upAfter} ms after SIGCONT`)
})

t.test('a node told to JOIN itself under another name forgets that address', async t => {
  const a = await startNode(t)
  const call = caller(await connect(t, a))
  const port = a.address().port
  t.equal(a.cluster.advertise, `127.0.0.1:${port}`)
  const alias = `localhost:${port}`
  const reply = await call('JOIN', alias)
  t.ok(Array.isArray(reply), 'JOIN cannot tell yet: it admits the address')
  await waitFor(async () => (await call('MEMBERS') as string[]).length === 1, 2000, 'the alias to be dropped')
  t.same(await call('MEMBERS'), [`${a.cluster.advertise} up self id=${a.nodeId} digest=${a.store.digest.rootHex()}`], 'MEMBERS lists only the node itself')
  t.same(await call('JOIN', alias), [a.cluster.advertise], 'a second JOIN of the alias adds nothing')
  t.same(await call('MEMBERS'), [`${a.cluster.advertise} up self id=${a.nodeId} digest=${a.store.digest.rootHex()}`], 'still only itself')
  t.equal(await call('SET', 'k', 'v'), 'OK', 'writes are acknowledged at once: no peer to wait for')
})
