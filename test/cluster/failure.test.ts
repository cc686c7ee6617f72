import t from 'tap'
import { RespClient } from '../../lib/client/resp-client.js'
import { plain, spawnServer, waitFor, type Address, type Child, type Teardown } from '../helpers/server.js'

// Nodes as child processes, so they can be killed (kill -9) and paused (SIGSTOP).

async function call (_t: Teardown, at: Address, ...args: string[]): Promise<unknown> {
  const client = await RespClient.connect({ ...at, connectTimeoutMs: 2000 })
  try {
    return plain(await client.call(args))
  } finally {
    client.close()
  }
}

/** MEMBERS at `at` as address -> state. */
async function members (t: Teardown, at: Address): Promise<Map<string, string>> {
  const lines = await call(t, at, 'MEMBERS') as string[]
  return new Map(lines.map(line => line.split(' ') as [string, string]))
}

const addr = (a: Address): string => `${a.host}:${a.port}`

async function waitState (t: Teardown, at: Address[], of: Address, state: string, timeoutMs: number): Promise<number> {
  const started = Date.now()
  await waitFor(async () => {
    for (const a of at) if ((await members(t, a)).get(addr(of)) !== state) return false
    return true
  }, timeoutMs, `${addr(of)} to be ${state}`)
  return Date.now() - started
}

type Node = Child & Address

async function cluster (t: Teardown): Promise<[Node, Node, Node]> {
  const a = await spawnServer(t, ['--port', '0', '--data-dir', ''])
  const b = await spawnServer(t, ['--port', '0', '--data-dir', '', '--join', addr(a)])
  const c = await spawnServer(t, ['--port', '0', '--data-dir', '', '--join', addr(a)])
  for (const x of [a, b, c]) for (const y of [a, b, c]) await waitState(t, [x], y, 'up', 5000)
  return [a, b, c]
}

t.test('kill -9: the others mark the node down within 2 s, keep serving, and a restarted node catches up', async t => {
  const [a, b, c] = await cluster(t)
  t.equal(await call(t, a, 'SET', 'before', '1'), 'OK')
  c.process.kill('SIGKILL')
  const took = await waitState(t, [a, b], c, 'down', 2500)
  t.ok(took <= 2000, `marked down in ${took} ms`)
  t.equal(await call(t, a, 'SET', 'while-down', '2'), 'OK')
  t.equal(await call(t, b, 'GET', 'while-down'), '2')
  await c.exited
  const c2 = await spawnServer(t, ['--port', String(c.port), '--data-dir', '', '--join', addr(a)])
  await waitState(t, [a, b], c2, 'up', 5000)
  await waitFor(async () => (await call(t, c2, 'GET', 'while-down')) === '2', 3000, 'the restarted node to catch up')
  t.equal(await call(t, c2, 'GET', 'before'), '1')
})

t.test('SIGSTOP: a paused node is down within 2 s, writes go on, and it catches up after SIGCONT', async t => {
  const [a, b] = await cluster(t)
  b.process.kill('SIGSTOP')
  t.teardown(() => { b.process.kill('SIGCONT') })
  const started = Date.now()
  t.equal(await call(t, a, 'SET', 'paused', 'yes'), 'OK', 'a write while a peer is paused')
  t.ok(Date.now() - started < 2500, `acknowledged within the failure-detection time (${Date.now() - started} ms)`)
  const took = await waitState(t, [a], b, 'down', 2500)
  t.ok(Date.now() - started <= 2000 + took, `paused peer marked down (${Date.now() - started} ms after the pause)`)
  b.process.kill('SIGCONT')
  await waitState(t, [a], b, 'up', 5000)
  await waitFor(async () => (await call(t, b, 'GET', 'paused')) === 'yes', 3000, 'the resumed node to get the write')
  t.pass('caught up')
})
