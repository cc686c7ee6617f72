import t from 'tap'
import type { RespClient } from '../../lib/client/resp-client.js'
import { MreplEncoder } from '../../lib/cluster/entry-codec.js'
import { command } from '../../lib/protocol/reply.js'
import { startCluster } from '../helpers/cluster.js'
import { FaultNet } from '../helpers/fault.js'
import { connect, plain, rawConnect, type RawSocket, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Transactions across nodes: a watched key written at another
// node aborts EXEC once the write arrives, and an EXEC's writes reach every
// node as one unit (G8): a client at another node never sees part of one,
// however many writes it holds (past MREPL's 4096 entries or 4 MiB).

const OK = '+OK\r\n'
const QUEUED = '+QUEUED\r\n'

/** The part of a tap test `torn` needs (and a place to tear down). */
interface Checks extends Teardown { ok: (value: unknown, message: string) => boolean }

/** Sends `input`; resolves with exactly the bytes its replies take (`expected.length` of them). */
async function exchange (raw: RawSocket, input: string, expected: string): Promise<string> {
  const before = raw.received.length
  raw.send(input)
  await raw.until(r => r.length >= before + expected.length)
  return raw.text.slice(before)
}

t.test('WATCH at A; a write at B arrives at A; EXEC at A answers nil', async t => {
  const [a, b] = await startCluster(t, 2)
  if (a === undefined || b === undefined) throw new Error('two nodes')
  const atA = await rawConnect(t, a)
  const atB = await rawConnect(t, b)
  t.equal(await exchange(atA, 'SET k 1\r\nWATCH k\r\nMULTI\r\nSET k mine\r\n', OK + OK + OK + QUEUED), OK + OK + OK + QUEUED)
  // SET answers at B once A holds the write (G1).
  t.equal(await exchange(atB, 'SET k theirs\r\n', OK), OK, 'written at B')
  t.equal(await exchange(atA, 'EXEC\r\nGET k\r\n', '*-1\r\n$6\r\ntheirs\r\n'), '*-1\r\n$6\r\ntheirs\r\n', 'aborted by the replicated write')
  t.equal(await exchange(atA, 'WATCH k\r\nMULTI\r\nSET k mine\r\nEXEC\r\n', OK + OK + QUEUED + '*1\r\n' + OK), OK + OK + QUEUED + '*1\r\n' + OK, 'unchanged: runs')
  t.equal(await exchange(atB, 'GET k\r\n', '$4\r\nmine\r\n'), '$4\r\nmine\r\n', 'EXEC answered after B held its write')
})

/**
 * Runs `rounds` transactions at A, each setting every key to the round's
 * number, while a client at B reads them all with MGET in a loop. Returns the
 * reads that saw a mix of rounds.
 */
async function torn (t: Checks, keys: number, rounds: number, valueBytes: number): Promise<{ reads: number, torn: string[] }> {
  // Through proxies that pass A's bytes to B in 64 KiB slices a millisecond
  // apart, as a real network would: a batch of several MREPL commands reaches
  // B in many reads, and B serves its clients between them.
  const net = new FaultNet(t)
  const [a, b] = await net.start(2)
  if (a === undefined || b === undefined) throw new Error('two nodes')
  for (const n of net.nodes) n.proxy.slice = 64 * 1024
  const writer = await connect(t, a)
  // A few readers, so one of them is usually waiting at B when a batch arrives.
  const readers = [await connect(t, b), await connect(t, b), await connect(t, b)]
  const names = Array.from({ length: keys }, (_, i) => `key:${i}`)
  // Small reads, so many of them: every 97th key and the last few (a split
  // MREPL would part the last ones from the first).
  const sample = keys <= 100 ? names : names.filter((_, i) => i % 97 === 0 || i >= keys - 3)
  const pad = 'x'.repeat(valueBytes)
  let done = false
  const bad: string[] = []
  let reads = 0
  const reading = Promise.all(readers.map(async reader => {
    while (!done) {
      const values = plain(await reader.call(['MGET', ...sample])) as Array<string | null>
      reads++
      const rounds = new Set(values.map(v => v === null ? 'nil' : v.slice(0, v.indexOf(':'))))
      if (rounds.size > 1) bad.push([...rounds].slice(0, 5).join(','))
    }
  }))
  for (let n = 1; n <= rounds; n++) {
    const value = `${n}:${pad}`
    const parts = [command(['MULTI'])]
    for (const k of names) parts.push(command(['SET', k, value]))
    parts.push(command(['EXEC']))
    const replies = await writer.sendMany(parts.join(''), keys + 2)
    const exec = plain(replies[keys + 1] ?? null) as string[] | null
    if (exec === null || exec.length !== keys) throw new Error(`EXEC answered ${JSON.stringify(exec).slice(0, 100)}`)
  }
  // Every round is at B when the last EXEC is answered (G1); one more read sees the last.
  done = true
  await reading
  const last = plain(await (readers[0] as RespClient).call(['MGET', ...names])) as string[]
  t.ok(last.every(v => v.startsWith(`${rounds}:`)), 'B holds the last round')
  return { reads, torn: bad }
}

t.test('a client at B never sees part of a 50-write EXEC run at A', async t => {
  const { reads, torn: bad } = await torn(t, 50, 300, 8)
  t.ok(reads > 10, `B read ${reads} times meanwhile`)
  t.same(bad, [], 'no read saw two rounds')
})

t.test('nor part of a 5000-write EXEC (past 4096 entries: one MREPL command)', async t => {
  const { reads, torn: bad } = await torn(t, 5000, 15, 1000)
  t.ok(reads > 15, `B read ${reads} times meanwhile`)
  t.same(bad, [], 'no read saw two rounds')
})

t.test('MreplEncoder keeps a unit in one command past its limits', async t => {
  const entry = (value: Buffer): { value: Buffer, expiresAt: number, wall: number, logical: number, node: string } =>
    ({ value, expiresAt: 0, wall: 1, logical: 0, node: 'n1' })
  const small = Buffer.from('v')
  const split = new MreplEncoder('n1')
  for (let i = 0; i < 5000; i++) split.add(`k${i}`, entry(small))
  t.equal(split.finish().commands, 2, 'outside a unit: closed at 4096 entries')
  const unit = new MreplEncoder('n1')
  unit.add('before', entry(small))
  for (let i = 0; i < 5000; i++) unit.add(`k${i}`, entry(small), i === 0)
  t.match(unit.finish(), { commands: 1, entries: 5001 }, 'a unit: one command')
  const big = Buffer.alloc(1024 * 1024)
  const bytes = new MreplEncoder('n1')
  for (let i = 0; i < 6; i++) bytes.add(`k${i}`, entry(big), i === 0)
  t.match(bytes.finish(), { commands: 1, entries: 6 }, 'past 4 MiB: one command')
  const after = new MreplEncoder('n1')
  for (let i = 0; i < 4096; i++) after.add(`k${i}`, entry(small))
  for (let i = 0; i < 10; i++) after.add(`u${i}`, entry(small), i === 0)
  after.add('next', entry(small))
  t.match(after.finish(), { commands: 2, entries: 4107 }, 'a unit starting at a full command starts the next one')
})
