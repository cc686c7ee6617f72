import t from 'tap'
import { memberStates } from '../helpers/cluster.js'
import { clientOf, kill9, startOn, type ServerChild } from '../helpers/durable.js'
import { caller, tempDir, waitFor, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Member removal with the real binaries and data directories: a
// member killed for good and removed with FORGET lets the others' tombstone
// backlog drain; restarted on its data directory it stays out and brings
// nothing back; restarted empty it joins as a new member and gets everything;
// --member-timeout removes a dead member on its own.

const addr = (s: ServerChild): string => `${s.host}:${s.port}`

async function info (t: Teardown, s: ServerChild, field: string): Promise<string> {
  const text = String(await caller(await clientOf(t, s))('INFO', 'replication'))
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? ''
}

async function membersOf (t: Teardown, s: ServerChild): Promise<Map<string, string>> {
  return await memberStates(await clientOf(t, s))
}

async function threeNodes (t: Teardown, extra: string[] = []): Promise<{ a: ServerChild, b: ServerChild, c: ServerChild, cDir: string }> {
  const args = ['--tombstone-grace-ms', '200', ...extra]
  const a = await startOn(t, tempDir(t), args)
  const b = await startOn(t, tempDir(t), [...args, '--join', addr(a)])
  const cDir = tempDir(t)
  const c = await startOn(t, cDir, [...args, '--join', addr(a)])
  for (const s of [a, b, c]) {
    await waitFor(async () => [...(await membersOf(t, s)).values()].filter(v => v === 'up').length === 3, 10_000, `all up at ${addr(s)}`)
  }
  return { a, b, c, cDir }
}

t.test('FORGET a member killed for good; it comes back on its data and stays out; empty, it joins anew', async t => {
  const { a, b, c, cDir } = await threeNodes(t)
  const atA = caller(await clientOf(t, a))
  t.equal(await atA('SET', 'gone', 'old'), 'OK')
  t.equal(await atA('SET', 'kept', 'v'), 'OK')
  await kill9(c)
  await waitFor(async () => (await membersOf(t, a)).get(addr(c)) === 'down', 5000, 'C down at A')
  t.equal(await atA('DEL', 'gone'), 1)
  await waitFor(async () => await info(t, a, 'tombstone_backlog_held_by') === addr(c), 5000, 'INFO at A to name C')
  t.equal(await info(t, a, 'tombstone_backlog'), '1', 'the tombstone waits for C')
  t.equal(await atA('FORGET', addr(c)), 'OK')
  for (const s of [a, b]) {
    await waitFor(async () => await info(t, s, 'tombstone_backlog') === '0', 5000, `the backlog to drain at ${addr(s)}`)
    t.notOk((await membersOf(t, s)).has(addr(c)), `${addr(s)} no longer lists C`)
  }

  // Back on its data directory (its members file still names A and B): told, it stays out.
  const back = await startOn(t, cDir, ['--port', String(c.port)])
  await waitFor(() => /was removed from the cluster/.test(back.stderr), 10_000, 'C to log that it was removed')
  const atBack = caller(await clientOf(t, back))
  t.same([...(await membersOf(t, back)).keys()], [addr(back)], 'MEMBERS at C lists only itself')
  t.equal(await atBack('GET', 'gone'), 'old', 'it serves its own (stale) data, alone')
  t.equal(await atBack('SET', 'stray', 'x'), 'OK')
  t.equal(await atA('GET', 'gone'), null, 'nothing it held came back to A')
  t.equal(await atA('GET', 'stray'), null)
  t.notOk((await membersOf(t, a)).has(addr(back)), 'A still does not list it')
  await kill9(back)

  // Restarted on the same data directory with --join: still refused, still alone.
  const again = await startOn(t, cDir, ['--port', String(c.port), '--join', addr(a)])
  await waitFor(() => /was removed from (the|its) cluster/.test(again.stderr), 10_000, 'C to say it stays out')
  t.same([...(await membersOf(t, again)).keys()], [addr(again)])
  await kill9(again)

  // Empty, on the same address: a new member, which gets everything.
  const fresh = await startOn(t, tempDir(t), ['--port', String(c.port), '--join', addr(a)])
  await waitFor(async () => (await membersOf(t, a)).get(addr(fresh)) === 'up', 10_000, 'the new C up at A')
  await waitFor(async () => (await membersOf(t, b)).get(addr(fresh)) === 'up', 10_000, 'and at B')
  const atFresh = caller(await clientOf(t, fresh))
  t.equal(await atFresh('GET', 'kept'), 'v', 'it got the state')
  t.equal(await atFresh('GET', 'gone'), null, 'and nothing deleted')
})

t.test('--member-timeout removes a dead member on its own', async t => {
  const { a, b, c } = await threeNodes(t, ['--member-timeout', '1'])
  await kill9(c)
  for (const s of [a, b]) {
    await waitFor(async () => !(await membersOf(t, s)).has(addr(c)), 10_000, `${addr(s)} to remove C`)
  }
  await waitFor(() => /removed from the cluster for good \(down for more than --member-timeout 1 s\)/.test(a.stderr + b.stderr), 5000, 'the log to say why')
  t.equal(await info(t, a, 'removed_members'), '1')
})
