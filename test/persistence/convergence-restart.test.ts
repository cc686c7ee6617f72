import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { KeystoneNode } from '../../lib/index.js'
import { createLogger, silentLogger } from '../../lib/log.js'
import { Persistence } from '../../lib/persistence/persistence.js'
import type { RespClient } from '../../lib/client/resp-client.js'
import { Store } from '../../lib/store/store.js'
import { clientOf, kill9, startOn } from '../helpers/durable.js'
import { freePort, tempDir, waitFor, type Teardown } from '../helpers/server.js'

// Where durability (FORMAT.md) meets convergence (PROTOCOL.md §Digests,
// §Tombstones): a node loaded from its data directory has the digest and the
// tombstone queues of the store it had; it catches up by anti-entropy, not a
// full transfer; a delete never comes back across kill -9; and the horizon rule
// survives restarts, on disk too.

const NODE = 'a'.repeat(40)
const OTHER = 'b'.repeat(40)

function settings (dir: string): Parameters<typeof Persistence.open>[0] {
  return { dir, fsync: 'no', repair: false, compactMinSize: 1 << 30, compactPercentage: 0 }
}

/** Writes through a store logged to `dir`: values and tombstones of two writers, some overwritten. */
async function fill (dir: string, compactHalfway: boolean): Promise<Store> {
  const store = new Store({ nodeId: NODE, keepTombstones: true, tombstoneGraceMs: 0 })
  const p = Persistence.open(settings(dir), silentLogger, NODE)
  p.load(store)
  const now = Date.now()
  for (let i = 0; i < 500; i++) store.set(`k${i}`, Buffer.from(`v${i}`))
  for (let i = 0; i < 100; i++) store.merge(`r${i}`, { value: Buffer.from(`r${i}`), expiresAt: 0, wall: now - 1000 + i, logical: 0, node: OTHER })
  if (compactHalfway) {
    p.compact()
    await waitFor(() => p.info().aof_rewrites === 1 && p.info().aof_rewrite_in_progress === 0, 5000, 'a compaction')
  }
  for (let i = 0; i < 500; i += 3) store.delete(`k${i}`)
  for (let i = 0; i < 100; i += 4) store.merge(`r${i}`, { value: null, expiresAt: 0, wall: now + i, logical: 1, node: OTHER })
  for (let i = 0; i < 500; i += 7) store.set(`k${i}`, Buffer.from(`again${i}`))
  await p.close()
  return store
}

for (const compact of [false, true]) {
  t.test(`a store loaded from ${compact ? 'a snapshot and a log' : 'a log'} has the digest and tombstone queues it had`, async t => {
    const dir = tempDir(t)
    const before = await fill(dir, compact)
    const after = new Store({ nodeId: NODE, keepTombstones: true, tombstoneGraceMs: 0 })
    const p = Persistence.open(settings(dir), silentLogger, NODE)
    t.teardown(() => p.close())
    p.load(after)
    t.equal(after.size, before.size, 'the same keys')
    t.equal(after.tombstones, before.tombstones, 'the same tombstones')
    t.ok(before.tombstones > 0, `${before.tombstones} tombstones`)
    t.equal(after.digest.rootHex(), before.digest.rootHex(), 'the same root digest')
    t.equal(Buffer.compare(after.digest.bucketBytes(), before.digest.bucketBytes()), 0, 'the same bucket digests')
    t.equal(after.tombstoneLog.queued >= after.tombstones, true, 'every loaded tombstone is queued for collection')
    // Every writer's tombstones become collectable once it is stable past them.
    after.setStable(NODE, { wall: Date.now() + 1000, logical: 0 })
    after.setStable(OTHER, { wall: Date.now() + 1000, logical: 0 })
    after.collectTombstones(10_000)
    t.equal(after.tombstones, 0, 'and collected by the usual rule')
  })
}

async function info (client: RespClient, field: string): Promise<string> {
  const text = String(await client.call(['INFO', 'replication']))
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? ''
}

async function allUp (clients: RespClient[], n: number): Promise<boolean> {
  for (const c of clients) {
    const lines = (await c.call(['MEMBERS'])) as Buffer[]
    if (lines.length !== n || !lines.every(l => / up( |$)/.test(String(l)))) return false
  }
  return true
}

t.test('kill -9 and a restart on the data directory: anti-entropy catches up incrementally, and no delete comes back', async t => {
  const a = await startOn(t, tempDir(t), ['--tombstone-grace-ms', '0'])
  const bPort = await freePort()
  const bDir = tempDir(t)
  const b = await startOn(t, bDir, ['--tombstone-grace-ms', '0', '--port', String(bPort), '--join', `${a.host}:${a.port}`])
  const ca = await clientOf(t, a)
  let cb = await clientOf(t, b)
  await waitFor(() => allUp([ca, cb], 2), 5000, 'A and B up')
  for (let i = 0; i < 300; i++) await (i % 2 === 0 ? ca : cb).call(['SET', `key${i}`, `v${i}`])
  // Deletes at both writers, collected everywhere before the crash.
  for (let i = 0; i < 300; i += 5) await (i % 2 === 0 ? cb : ca).call(['DEL', `key${i}`])
  await waitFor(async () => await info(ca, 'tombstones') === '0' && await info(cb, 'tombstones') === '0', 8000, 'every tombstone collected')
  t.equal(await info(ca, 'tombstones_collected') !== '0', true, 'A collected tombstones')

  const fullBefore = await info(ca, 'full_syncs_sent')
  await kill9(b)
  for (let i = 300; i < 330; i++) await ca.call(['SET', `key${i}`, `missed${i}`])
  await ca.call(['DEL', 'key1']) // a delete made while B is down
  const b2 = await startOn(t, bDir, ['--tombstone-grace-ms', '0', '--port', String(bPort)])
  cb = await clientOf(t, b2)
  await waitFor(async () => await cb.call(['GET', 'key329']) !== null, 5000, 'B to get what it missed')
  await waitFor(async () => await info(ca, 'digest') === await info(cb, 'digest'), 5000, 'equal digests')
  t.equal(await info(cb, 'full_syncs_received'), '0', 'B, restarted with its data, got no full transfer')
  t.equal(await info(ca, 'full_syncs_sent'), fullBefore, 'nor did A send one')
  // One end's round fixes both directions (the other then finds nothing to do).
  const incremental = Number(await info(cb, 'incremental_syncs')) + Number(await info(cb, 'incremental_syncs_received'))
  t.ok(incremental > 0, `an incremental sync instead (${incremental})`)
  for (let i = 0; i < 330; i++) {
    const want = i === 1 || (i < 300 && i % 5 === 0) ? null : i < 300 ? `v${i}` : `missed${i}`
    const got = await cb.call(['GET', `key${i}`])
    if ((got === null ? null : String(got)) !== want) t.fail(`key${i}: want ${String(want)}, got ${String(got)}`)
  }
  t.equal(await cb.call(['DBSIZE']), await ca.call(['DBSIZE']), 'the same number of keys')
  // B's log still held the tombstones collected before the crash: once loaded they go again,
  // B's own too (it has written nothing since the restart).
  await waitFor(async () => await info(cb, 'tombstones') === '0' && await info(ca, 'tombstones') === '0', 8000, 'the reloaded tombstones collected again')
  await waitFor(async () => await info(ca, 'digest') === await info(cb, 'digest'), 5000, 'equal digests after collection')
})

/**
 * A data directory as a node left it that had a peer at `peer`: a value and a
 * tombstone from two minutes ago, and a fresh value.
 */
async function oldDir (t: Teardown, peer: string): Promise<{ dir: string, port: number }> {
  const dir = tempDir(t)
  const port = await freePort()
  const node = new KeystoneNode({ host: '127.0.0.1', port, dataDir: dir, fsync: 'always', tombstoneGraceMs: 0 }, { log: silentLogger })
  await node.start()
  const old = Date.now() - 120_000
  node.store.merge('old-value', { value: Buffer.from('old'), expiresAt: 0, wall: old, logical: 0, node: OTHER })
  node.store.merge('old-tombstone', { value: null, expiresAt: 0, wall: old, logical: 1, node: OTHER })
  node.store.set('fresh', Buffer.from('new'))
  await node.close()
  writeFileSync(path.join(dir, 'members'), `${peer}\n`)
  return { dir, port }
}

t.test('a node restarted on old data keeps it, however long it was away (only a peer\'s tombstone can delete it)', async t => {
  const nobody = `127.0.0.1:${await freePort()}` // a remembered member that never answers
  const { dir, port } = await oldDir(t, nobody)
  const node = new KeystoneNode({ host: '127.0.0.1', port, dataDir: dir, tombstoneGraceMs: 0 }, { log: silentLogger })
  t.teardown(() => node.close())
  await node.start()
  t.equal(node.store.get('old-value')?.value?.toString(), 'old', 'the old value stays')
  t.equal(node.store.get('fresh')?.value?.toString(), 'new', 'and the rest')
  t.ok(node.store.peek('old-tombstone') !== undefined, 'the old tombstone waits: its writer never said every member holds it')
})

t.test('a data directory from a version with the tombstone horizon loads; its horizon-owed file goes, with one log line', async t => {
  const nobody = `127.0.0.1:${await freePort()}`
  const { dir, port } = await oldDir(t, nobody)
  const owed = path.join(dir, 'horizon-owed')
  writeFileSync(owed, `${nobody} ${Date.now() - 60_000}\n`)
  const lines: string[] = []
  const node = new KeystoneNode({ host: '127.0.0.1', port, dataDir: dir, tombstoneGraceMs: 0 }, { log: createLogger('info', line => lines.push(line)) })
  t.teardown(() => node.close())
  await node.start()
  t.equal(node.store.get('fresh')?.value?.toString(), 'new', 'the data loads')
  t.equal(lines.filter(l => l.includes('horizon-owed')).length, 1, 'one log line says so')
  t.throws(() => readFileSync(owed), 'the file is gone')
})
