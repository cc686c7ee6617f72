import t from 'tap'
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { FILE_HEADER_SIZE, RecordReader } from '../../lib/persistence/record.js'
import { clientOf, missingKeys, startOn, waitCompactions } from '../helpers/durable.js'
import { runBin, tempDir } from '../helpers/server.js'

// FORMAT.md §Recovery: a torn last record (a crash during a write) is cut off
// with a warning; a damaged record with intact ones after it stops the node
// with the file and offset, unless --repair-log.

type Test = tap.Test

/** A data directory holding one log of `n` SETs (k0..k{n-1}), written by a node stopped cleanly. */
async function dataDirWith (t: Test, n: number): Promise<{ dir: string, log: string, expected: Map<string, string> }> {
  const dir = tempDir(t)
  const node = await startOn(t, dir)
  const client = await clientOf(t, node)
  const expected = new Map<string, string>()
  for (let i = 0; i < n; i++) {
    expected.set(`k${i}`, `value-${i}`)
    await client.call(['SET', `k${i}`, `value-${i}`])
  }
  client.close()
  node.process.kill('SIGTERM')
  await node.exited
  const log = readdirSync(dir).find(f => f.startsWith('log-'))
  if (log === undefined) throw new Error('no log file')
  return { dir, log: path.join(dir, log), expected }
}

/** File offsets of the records of a log. */
function recordOffsets (file: string): number[] {
  const buf = readFileSync(file)
  const reader = new RecordReader()
  const out: number[] = []
  for (let at = FILE_HEADER_SIZE; at < buf.length;) {
    const next = reader.read(buf, at, buf.length)
    if (next < 0) throw new Error(`record at ${at}: ${reader.why}`)
    out.push(at)
    at = next
  }
  return out
}

t.test('a torn last record is cut off with a warning; every whole record is kept', async t => {
  const { dir, log, expected } = await dataDirWith(t, 50)
  const offsets = recordOffsets(log)
  const last = offsets[offsets.length - 1] as number
  truncateSync(log, statSync(log).size - 3) // the crash came in the middle of the last write
  expected.delete('k49')
  const node = await startOn(t, dir)
  t.match(node.stderr, `${log}: torn record at offset ${last} (a crash during a write): cutting off the last`)
  const client = await clientOf(t, node)
  t.same(await missingKeys(client, expected), [], 'the 49 whole records are there')
  t.equal(await client.call(['EXISTS', 'k49']), 0, 'the torn one is not')
  t.equal(statSync(log).size, last, 'the file ends after the last whole record')
  t.equal(await client.call(['SET', 'after', 'x']), 'OK', 'and takes new records after it')
})

t.test('zeros after the last record (a power failure) are a torn tail too', async t => {
  const { dir, log, expected } = await dataDirWith(t, 20)
  const size = statSync(log).size
  appendFileSync(log, Buffer.alloc(4096))
  const node = await startOn(t, dir)
  t.match(node.stderr, `torn record at offset ${size}`)
  t.same(await missingKeys(await clientOf(t, node), expected), [])
})

t.test('a damaged record in the middle stops the node with the file and offset; --repair-log skips it', async t => {
  const { dir, log, expected } = await dataDirWith(t, 50)
  const offsets = recordOffsets(log)
  const at = offsets[20] as number
  const bytes = readFileSync(log)
  bytes[at + 30] = (bytes[at + 30] as number) ^ 0x55 // inside record 20's body
  writeFileSync(log, bytes)

  const refused = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', dir])
  t.equal(refused.code, 1, 'exit code 1')
  t.match(refused.stderr, `${log} is corrupt at offset ${at}: checksum mismatch, with intact records after it (the next at offset ${offsets[21] as number}). Start with --repair-log`)
  t.equal(readFileSync(log).length, bytes.length, 'the file is left as it was')

  const repaired = await startOn(t, dir, ['--repair-log'])
  t.match(repaired.stderr, `${log}: skipped ${(offsets[21] as number) - at} damaged bytes (--repair-log)`)
  const client = await clientOf(t, repaired)
  expected.delete('k20')
  t.same(await missingKeys(client, expected), [], 'every other record is there')
  // The repair compacts at once, so the damage is gone from the directory.
  await waitCompactions(client, 1)
  client.close()
  repaired.process.kill('SIGTERM')
  await repaired.exited
  const again = await startOn(t, dir)
  t.same(await missingKeys(await clientOf(t, again), expected), [], 'a restart without --repair-log works')
})

t.test('a damaged snapshot stops the node too', async t => {
  const dir = tempDir(t)
  const node = await startOn(t, dir)
  const client = await clientOf(t, node)
  for (let i = 0; i < 20; i++) await client.call(['SET', `k${i}`, 'v'])
  await client.call(['BGREWRITEAOF'])
  await waitCompactions(client, 1)
  client.close()
  node.process.kill('SIGTERM')
  await node.exited
  const snapshot = path.join(dir, readdirSync(dir).find(f => f.startsWith('snapshot-')) as string)
  const bytes = readFileSync(snapshot)
  bytes[FILE_HEADER_SIZE + 20] = (bytes[FILE_HEADER_SIZE + 20] as number) ^ 1
  writeFileSync(snapshot, bytes)
  const refused = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', dir])
  t.equal(refused.code, 1)
  t.match(refused.stderr, `${snapshot} is corrupt at offset ${FILE_HEADER_SIZE}: checksum mismatch`)
})

t.test('a file that is not ours is refused, never overwritten', async t => {
  const dir = tempDir(t)
  writeFileSync(path.join(dir, 'log-000001.ks'), 'hello, this is not a log file at all')
  const refused = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', dir])
  t.equal(refused.code, 1)
  t.match(refused.stderr, 'log-000001.ks is corrupt at offset 0: not a Keystone data file (bad magic)')
  t.equal(readFileSync(path.join(dir, 'log-000001.ks'), 'latin1'), 'hello, this is not a log file at all')
})

t.test('a page of zeros inside the newest log (a power failure before the fsync) is a torn tail too', async t => {
  const { dir, log, expected } = await dataDirWith(t, 150)
  const offsets = recordOffsets(log)
  const bytes = readFileSync(log)
  bytes.fill(0, 4096, 8192) // that page never reached the disk; later ones did
  writeFileSync(log, bytes)
  const cut = offsets.filter(o => o <= 4096).pop() as number
  const node = await startOn(t, dir)
  t.match(node.stderr, `${log}: torn record at offset ${cut}`)
  const client = await clientOf(t, node)
  const kept = new Map([...expected].filter((_, i) => (offsets[i] as number) < cut))
  t.ok(kept.size > 10 && kept.size < 150, `${kept.size} records before the hole`)
  t.same(await missingKeys(client, kept), [], 'every record before the hole is there')
})
