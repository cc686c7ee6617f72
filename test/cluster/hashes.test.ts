import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { roundMark, waitDigestsEqual, waitRounds } from '../helpers/converge.js'
import { FaultNet } from '../helpers/fault.js'
import { allUpAt, caller, connect, holdFor, spawnServer, tempDir, waitFor } from '../helpers/server.js'
import { PAGE_FIELDS } from '../../lib/cluster/entry-codec.js'
import { decodeHash, hashBytes } from '../../lib/store/hash-codec.js'
import type { HashState } from '../../lib/store/hash.js'

// CONTRACT G7 for hashes (PROTOCOL.md §Hashes) across a healed partition:
// fields written on each side all survive, HDEL and DEL remove only what their
// node had seen, HINCRBY adds up, a SET made on one side cuts the fields older
// than it; and (real binaries) a write to one field of a 100,000-field hash
// replicates in about that field's bytes (INFO replication).

type Call = (...args: string[]) => Promise<unknown>

async function seesDown (from: KeystoneNode, to: KeystoneNode): Promise<void> {
  await waitFor(() => from.cluster.members.get(to.cluster.advertise)?.link.status !== 'ready', 4000, `${from.cluster.advertise} to see ${to.cluster.advertise} down`)
}

/** HGETALL as a sorted list of `field=value` (nodes may list merged fields in different orders). */
async function fieldsAt (call: Call, key: string): Promise<string[]> {
  const flat = await call('HGETALL', key) as string[]
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i] ?? ''}=${flat[i + 1] ?? ''}`)
  return out.sort()
}

t.test('a partition healed: field-level merges, observed-remove HDEL and DEL, increments added, a SET cutting older fields', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
  const [atA, atB, atC] = await Promise.all(nodes.map(async n => caller(await connect(t, n)) as Call)) as [Call, Call, Call]
  // Before the cut (acknowledged: every node holds it).
  t.equal(await atA('HSET', 'h', 'x', 'old', 'y', '1', 'keep', 'k'), 3)
  t.equal(await atB('HINCRBY', 'h', 'n', '10'), 10)
  t.equal(await atA('HSET', 'g', 'g1', '1', 'g2', '2'), 2)
  t.equal(await atA('HSET', 's', 'old', '1'), 1)
  t.same(await fieldsAt(atC, 'h'), ['keep=k', 'n=10', 'x=old', 'y=1'])

  net.isolate(0) // {A} | {B, C}
  await Promise.all([seesDown(a, b), seesDown(a, c), seesDown(b, a), seesDown(c, a)])
  t.equal(await atA('HSET', 'h', 'fa', 'from A'), 1)
  t.equal(await atA('HDEL', 'h', 'x', 'y'), 2) // A had seen x=old and y=1
  t.equal(await atA('HINCRBY', 'h', 'n', '2'), 12)
  t.equal(await atA('DEL', 'g'), 1) // A had seen g1 and g2
  t.equal(await atB('HSET', 'h', 'fb', 'from B'), 1)
  t.equal(await atB('HSET', 'h', 'x', 'new'), 0) // concurrent with A's HDEL: not seen by it
  t.equal(await atC('HINCRBY', 'h', 'n', '3'), 13)
  t.equal(await atC('HSET', 'h', 'fc', 'from C'), 1)
  t.equal(await atB('HSET', 'g', 'g3', '3'), 1) // concurrent with A's DEL
  t.equal(await atB('HSET', 's', 'before', 'the SET'), 1)
  await holdFor(5, 'versions follow the clock: the SET must come a few ms after B\'s field write')
  t.equal(await atA('SET', 's', 'a string'), 'OK') // after B's field write in time, not having seen it
  await holdFor(5, 'and C\'s field write a few ms after the SET')
  t.equal(await atC('HSET', 's', 'after', 'the SET'), 1)
  t.same(await fieldsAt(atA, 'h'), ['fa=from A', 'keep=k', 'n=12'], 'A during the cut')
  t.same(await fieldsAt(atB, 'h'), ['fb=from B', 'fc=from C', 'keep=k', 'n=13', 'x=new', 'y=1'], 'B during the cut')

  net.heal()
  const want = ['fa=from A', 'fb=from B', 'fc=from C', 'keep=k', 'n=15', 'x=new']
  const calls = [atA, atB, atC]
  // Every key, not h alone: s reaches A (which holds the string) by a later round than h.
  const merged = JSON.stringify([want, ['g3=3'], ['after=the SET']])
  await waitFor(async () => (await Promise.all(calls.map(async c => JSON.stringify([await fieldsAt(c, 'h'), await fieldsAt(c, 'g'), await fieldsAt(c, 's')])))).every(v => v === merged), 10000, 'h, g and s merged at every node')
  for (const [i, call] of calls.entries()) {
    t.same(await fieldsAt(call, 'h'), want, `node ${i}: every field written on either side; x set concurrently with the HDEL survives; y removed; n = 10 + 2 + 3`)
    t.same(await fieldsAt(call, 'g'), ['g3=3'], `node ${i}: the DEL removed g1 and g2, not g3`)
    t.same(await fieldsAt(call, 's'), ['after=the SET'], `node ${i}: the SET cut the fields older than it; the one written after it keeps s a hash`)
  }
  t.ok(await waitDigestsEqual(nodes, 3000) <= 3000, 'equal digests')
  // Removal records are collected (grace 0) once stable; the data stays.
  await waitRounds(roundMark(nodes), 2, 8000)
  for (const [i, call] of calls.entries()) t.same(await fieldsAt(call, 'h'), want, `node ${i} after two rounds and collection`)
  await waitFor(() => nodes.every(n => (n.store.peek('h')?.hash?.fields.size ?? 0) === want.length), 8000, 'the removal records of h collected everywhere')
  t.equal(await atB('HINCRBY', 'h', 'n', '1'), 16)
  t.equal(await atA('HGET', 'h', 'n'), '16')
})

t.test('state transfer: a node that joins gets whole hashes (removals, increments, expiry); SYNC pages carry hash states', async t => {
  const net = new FaultNet(t, { tombstoneGraceMs: 60_000 })
  const [a] = await net.start(1) as [KeystoneNode]
  const atA = caller(await connect(t, a)) as Call
  const args = ['HSET', 'h']
  for (let i = 0; i < 3000; i++) args.push(`f${i}`, `v${i}`)
  t.equal(await atA(...args), 3000)
  t.equal(await atA('HDEL', 'h', 'f1', 'f2', 'f3'), 3)
  t.equal(await atA('HINCRBY', 'h', 'n', '41'), 41)
  t.equal(await atA('HSET', 't', 'x', '1'), 1)
  t.equal(await atA('PEXPIRE', 't', '100000'), 1)
  t.equal(await atA('HSET', 'gone', 'x', '1'), 1)
  t.equal(await atA('DEL', 'gone'), 1)
  const [, b] = await net.start(1) as [KeystoneNode, KeystoneNode]
  const atB = caller(await connect(t, b)) as Call
  t.equal(await atB('HLEN', 'h'), 2998, '3000 fields, 3 removed, n')
  t.same(await fieldsAt(atB, 'h'), await fieldsAt(atA, 'h'))
  t.equal(await atB('HGET', 'h', 'n'), '41')
  t.ok((await atB('PTTL', 't') as number) > 90_000, 'the expiry came along')
  t.equal(await atB('EXISTS', 'gone'), 0)
  t.equal(a.store.peek('h')?.hash?.fields.size, 2998, 'a node that never had a peer keeps no removal records: 2997 fields and n')
  t.equal(b.store.peek('h')?.hash?.fields.size, 2998)
  t.equal(await atA('HDEL', 'h', 'f4'), 1)
  t.equal(b.store.peek('h')?.hash?.fields.size, 2998, 'with a peer, a removal is a record (kept until stable), replicated')
  t.equal(await atB('HLEN', 'h'), 2997)
  t.equal(await atB('HEXISTS', 'h', 'f4'), 0)
  t.ok(await waitDigestsEqual([a, b], 3000) <= 3000, 'equal digests')
  // SYNC pages: the 7th field of a hash entry is its whole state (FORMAT.md §Hash state, first byte 2).
  const client = await connect(t, a)
  let cursor = '0'
  let found: Buffer | null = null
  do {
    const page = await client.call(['SYNC', cursor]) as [Buffer, Array<Buffer | null>]
    cursor = page[0].toString()
    for (let i = 0; i < page[1].length; i += PAGE_FIELDS) if (page[1][i]?.toString() === 'h') found = page[1][i + 6] ?? null
  } while (cursor !== '0')
  t.ok(found !== null && found[0] === 2, 'a hash state')
  const state = found === null ? 'none' : decodeHash(found)
  t.equal(typeof state === 'string' ? state : hashBytes(state).toString('hex'), hashBytes(a.store.peek('h')?.hash as HashState).toString('hex'), 'the whole hash')
})

t.test('real binaries: a write to one field of a 100,000-field hash replicates in about the bytes of that field', async t => {
  const a = await spawnServer(t, ['--port', '0', '--data-dir', tempDir(t)])
  const b = await spawnServer(t, ['--port', '0', '--data-dir', tempDir(t), '--join', `${a.host}:${a.port}`])
  await waitFor(() => allUpAt([a, b]), 8000, 'two nodes up')
  const atA = caller(await connect(t, a)) as Call
  const atB = caller(await connect(t, b)) as Call
  // KEYSTONE_HASH_FIELDS=1000000 for the size (a minute or so, ~1 GB between the two processes).
  const FIELDS = Number(process.env.KEYSTONE_HASH_FIELDS ?? 100_000)
  for (let from = 0; from < FIELDS; from += 5000) {
    const args = ['HSET', 'big']
    for (let i = from; i < from + 5000; i++) args.push(`field:${i}`, `value:${i}`)
    t.equal(await atA(...args), 5000)
  }
  t.equal(await atB('HLEN', 'big'), FIELDS, 'B holds the whole hash (a write is answered once every peer holds it)')
  t.equal(await atA('HGET', 'big', 'field:77777'), 'value:77777')
  /** B's count of bytes and writes received from A, by INFO replication. */
  const received = async (): Promise<{ bytes: number, writes: number }> => {
    const info = await atB('INFO', 'replication') as string
    const line = info.split('\r\n').find(l => l.includes(`${a.host}:${a.port}`) && l.includes('bytes_received=')) ?? ''
    return { bytes: Number(/bytes_received=(\d+)/.exec(line)?.[1] ?? NaN), writes: Number(/writes_received=(\d+)/.exec(line)?.[1] ?? NaN) }
  }
  const before = await received()
  t.ok(before.bytes > FIELDS * 20, `loading it took ${before.bytes} bytes`)
  const value = 'v'.repeat(100)
  t.equal(await atA('HSET', 'big', 'field:77777', value), 0)
  t.equal(await atB('HGET', 'big', 'field:77777'), value, 'B holds the new value')
  const after = await received()
  const cost = after.bytes - before.bytes
  const fieldBytes = 'field:77777'.length + value.length
  t.equal(after.writes - before.writes, 1, 'one write')
  t.ok(cost < fieldBytes + 250, `one field (${fieldBytes} bytes of name and value) replicated in ${cost} bytes`)
  t.comment(`a one-field write to a ${FIELDS}-field hash: ${cost} bytes on the wire for ${fieldBytes} bytes of field`)
  t.equal(await atA('DIGEST') as string, await atB('DIGEST') as string, 'equal digests')
})
