import t from 'tap'
import { ackedCount, moreWrites, UniqueWriter } from '../helpers/converge.js'
import { allUpAt, callOnce, holdFor, plain, spawnServer, tempDir, waitFor, type Address, type Child, type Teardown } from '../helpers/server.js'

// CONTRACT G2 and G4 with real processes: a node paused (SIGSTOP) for longer
// than failure detection, and a node killed (kill -9) and restarted, both
// while every node takes writes of unique keys. Afterwards every node holds
// the same data within 3 s, with every acknowledged write.

type Node = Child & Address

const addr = (a: Address): string => `${a.host}:${a.port}`



/** Three nodes; `dirs`: the data directory of each ('' memory only). */
async function cluster (t: Teardown, dirs: readonly string[] = ['', '', '']): Promise<Node[]> {
  const a = await spawnServer(t, ['--port', '0', '--data-dir', dirs[0] ?? ''])
  const b = await spawnServer(t, ['--port', '0', '--data-dir', dirs[1] ?? '', '--join', addr(a)])
  const c = await spawnServer(t, ['--port', '0', '--data-dir', dirs[2] ?? '', '--join', addr(a)])
  await waitFor(() => allUpAt([a, b, c]), 5000, 'three nodes up')
  return [a, b, c]
}

async function roots (nodes: readonly Address[]): Promise<string[]> {
  return Promise.all(nodes.map(async n => String(plain(await callOnce(n, 'DIGEST')))))
}

/** Every live key and value at a node (KEYS then MGET). */
async function snapshot (at: Address): Promise<Map<string, string>> {
  const keys = (plain(await callOnce(at, 'KEYS', '*')) as string[]).sort()
  const out = new Map<string, string>()
  if (keys.length === 0) return out
  const values = plain(await callOnce(at, 'MGET', ...keys)) as Array<string | null>
  keys.forEach((k, i) => { const v = values[i]; if (v !== null && v !== undefined) out.set(k, v) })
  return out
}

async function checkConverged (t: Tap, nodes: readonly Address[], writers: readonly UniqueWriter[]): Promise<void> {
  const started = Date.now()
  await waitFor(async () => new Set(await roots(nodes)).size === 1, 3000, 'equal digests')
  t.ok(Date.now() - started <= 3000, `equal digests within ${Date.now() - started} ms`)
  const snaps = await Promise.all(nodes.map(snapshot))
  const first = snaps[0] as Map<string, string>
  for (const s of snaps.slice(1)) t.same([...s], [...first], 'identical data')
  const lost: string[] = []
  for (const w of writers) for (const [key, want] of w.acked) if ((first.get(key) ?? null) !== want) lost.push(`${key}: want ${String(want)}, got ${String(first.get(key))}`)
  t.same(lost.slice(0, 5), [], `all ${ackedCount(writers)} acknowledged writes are there`)
}

interface Tap extends Teardown {
  ok: (value: unknown, message: string) => unknown
  same: (found: unknown, wanted: unknown, message: string) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
}

t.test('SIGSTOP a node for longer than failure detection under writes, then SIGCONT: it catches up, nothing lost', async t => {
  const nodes = await cluster(t)
  const [a, b, c] = nodes as [Node, Node, Node]
  const writers = await Promise.all(nodes.map((n, i) => UniqueWriter.connect(t, n, `w${i}`)))
  for (const w of writers) w.start()
  await moreWrites(writers, [], 50, 'writes at every node before the pause')
  c.process.kill('SIGSTOP')
  t.teardown(() => { c.process.kill('SIGCONT') })
  await waitFor(async () => (plain(await callOnce(a, 'MEMBERS')) as string[]).some(l => l.startsWith(`${addr(c)} down`)), 3000, 'C down at A')
  await holdFor(1000, 'pacing: C stays paused while A and B take writes')
  const paused = writers.map(w => w.acked.size)
  c.process.kill('SIGCONT')
  await moreWrites(writers, paused, 50, 'writes at every node after SIGCONT, the paused node\'s included')
  await Promise.all(writers.map(w => w.stop()))
  t.ok((writers[2]?.acked.size ?? 0) > (paused[2] ?? 0), 'the paused node\'s client got its replies after SIGCONT')
  await checkConverged(t, [a, b, c], writers)
})

t.test('kill -9 a node under writes and restart it on its data: it catches up by anti-entropy, nothing acknowledged is lost', async t => {
  const dirs = [tempDir(t), tempDir(t), tempDir(t)]
  const nodes = await cluster(t, dirs)
  const [a, b, c] = nodes as [Node, Node, Node]
  const writers = await Promise.all(nodes.map((n, i) => UniqueWriter.connect(t, n, `w${i}`)))
  for (const w of writers) w.start()
  await moreWrites(writers, [], 50, 'writes at every node before the kill')
  c.process.kill('SIGKILL')
  await c.exited
  await holdFor(700, 'pacing: C stays dead while A and B take writes')
  const c2 = await spawnServer(t, ['--port', String(c.port), '--data-dir', dirs[2] ?? '', '--join', addr(a)])
  await waitFor(() => allUpAt([a, b, c2]), 5000, 'the restarted node up')
  const again = await UniqueWriter.connect(t, c2, 'w2b')
  again.start()
  const live = [writers[0] as UniqueWriter, writers[1] as UniqueWriter, again]
  await moreWrites(live, live.map(w => w.acked.size), 50, 'writes at every node after the restart')
  await Promise.all([...writers, again].map(w => w.stop()))
  t.ok((writers[2]?.acked.size ?? 0) > 0, 'the killed node had acknowledged writes')
  await checkConverged(t, [a, b, c2], [...writers, again])
  // Issue 5 item 4: it loaded its data, so only what it missed travelled.
  const info = String(plain(await callOnce(c2, 'INFO', 'replication')))
  t.equal(/^full_syncs_received:(\d+)/m.exec(info)?.[1], '0', 'the restarted node got no full transfer')
})

t.test('a node paused (SIGSTOP) while a delete is made holds the tombstone back; on SIGCONT it takes the delete and the backlog drains', async t => {
  const flags = ['--port', '0', '--data-dir', '', '--tombstone-grace-ms', '0']
  const a = await spawnServer(t, flags)
  const b = await spawnServer(t, [...flags, '--join', addr(a)])
  await waitFor(() => allUpAt([a, b]), 5000, 'two nodes up')
  t.equal(plain(await callOnce(a, 'SET', 'k', 'v')), 'OK')
  await waitFor(async () => plain(await callOnce(b, 'GET', 'k')) === 'v', 3000, 'k at B')
  b.process.kill('SIGSTOP')
  t.teardown(() => { b.process.kill('SIGCONT') })
  const info = async (): Promise<string> => String(plain(await callOnce(a, 'INFO', 'replication')))
  await waitFor(async () => /member0:[^\r\n]*state=down/.test(await info()), 5000, 'A sees B down')
  t.equal(plain(await callOnce(a, 'DEL', 'k')), 1)
  await waitFor(async () => (await info()).includes(`tombstone_backlog_held_by:${addr(b)}`), 3000, 'INFO at A to name B')
  t.match(await info(), /tombstone_backlog:1\b/, 'the tombstone waits for B, however long it is away')
  b.process.kill('SIGCONT')
  await waitFor(async () => plain(await callOnce(b, 'GET', 'k')) === null, 5000, 'B to take the delete')
  await waitFor(async () => /tombstone_backlog:0\b/.test(await info()), 5000, 'the backlog to drain at A')
  t.equal(plain(await callOnce(a, 'GET', 'k')), null, 'the delete holds at A')
  t.equal(plain(await callOnce(b, 'GET', 'k')), null, 'and at B')
})
