import t from 'tap'
import { memberStates } from '../helpers/cluster.js'
import { clientOf, type ServerChild } from '../helpers/durable.js'
import { NodeProxy } from '../helpers/fault.js'
import { caller, freePort, spawnServer, tempDir, waitFor, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Member removal, --member-timeout, with the real binaries: a
// partition cuts C off; A and B (a majority) remove it, C (alone) removes no
// one; healed, C is told, leaves, keeps its own data, and nothing it held comes
// back into the cluster, nor does anything deleted meanwhile.

interface Proxied { proxy: NodeProxy, host: string, server: ServerChild }

async function start (t: Teardown, i: number, join?: Proxied): Promise<Proxied> {
  const host = `127.0.0.${i + 2}`
  const proxy = new NodeProxy(host)
  t.teardown(() => proxy.close())
  await proxy.listen()
  const port = await freePort()
  proxy.target = { host, port }
  const args = ['--host', host, '--port', String(port), '--advertise', proxy.addr, '--data-dir', tempDir(t), '--member-timeout', '1', '--tombstone-grace-ms', '200']
  const server = await spawnServer(t, join === undefined ? args : [...args, '--join', join.proxy.addr])
  return { proxy, host, server }
}

/** Bytes between x and y are held both ways (each node's peer links come from its --host). */
function cut (x: Proxied, y: Proxied): void {
  y.proxy.hold(x.host, 'in')
  x.proxy.hold(y.host, 'out')
  x.proxy.hold(y.host, 'in')
  y.proxy.hold(x.host, 'out')
}

t.test('a partition healed after the majority timed the minority out: the minority leaves and brings nothing back', async t => {
  const a = await start(t, 0)
  const b = await start(t, 1, a)
  const c = await start(t, 2, a)
  const all = [a, b, c]
  const members = async (x: Proxied): Promise<Map<string, string>> => await memberStates(await clientOf(t, x.server))
  for (const x of all) await waitFor(async () => [...(await members(x)).values()].filter(s => s === 'up').length === 3, 10_000, `all up at ${x.proxy.addr}`)
  const atA = caller(await clientOf(t, a.server))
  const atC = caller(await clientOf(t, c.server))
  t.equal(await atA('SET', 'doomed', 'old'), 'OK')
  t.equal(await atC('GET', 'doomed'), 'old', 'C holds it (the write waited for C)')
  cut(a, c)
  cut(b, c)
  await waitFor(async () => (await members(a)).get(c.proxy.addr) === 'down', 5000, 'C down at A')
  t.equal(await atA('DEL', 'doomed'), 1, 'deleted on the majority side')
  t.equal(await atC('SET', 'minority', 'w'), 'OK', 'written on the minority side')
  for (const x of [a, b]) await waitFor(async () => !(await members(x)).has(c.proxy.addr), 10_000, `${x.proxy.addr} to remove C`)
  t.match(a.server.stderr + b.server.stderr, /removed from the cluster for good \(down for more than --member-timeout 1 s\)/, 'the majority says why')
  await waitFor(() => /not removing it/.test(c.server.stderr), 5000, 'C to say it removes no one')
  t.equal((await members(c)).size, 3, 'C, alone, still lists A and B')
  await waitFor(async () => await atA('INFO', 'replication').then(i => /tombstone_backlog:0\b/.test(String(i))), 5000, 'the backlog to drain at A once C is removed')
  for (const x of all) x.proxy.heal()
  await waitFor(() => /was removed from the cluster/.test(c.server.stderr), 10_000, 'C to learn it was removed')
  t.same([...(await members(c)).keys()], [c.proxy.addr], 'C left: MEMBERS lists only itself')
  t.equal(await atC('GET', 'minority'), 'w', 'C keeps its own data')
  t.equal(await atC('GET', 'doomed'), 'old', 'and its old copy, alone')
  t.equal(await atA('GET', 'doomed'), null, 'the delete holds at A')
  t.equal(await caller(await clientOf(t, b.server))('GET', 'doomed'), null, 'and at B')
  t.equal(await atA('GET', 'minority'), null, 'what only C held stays out')
  t.same([...(await members(a)).keys()].sort(), [a.proxy.addr, b.proxy.addr].sort(), 'A and B are the cluster')
})
