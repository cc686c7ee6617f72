import t from 'tap'

type Test = tap.Test
import type { RespClient } from '../../lib/client/resp-client.js'
import { clientOf, kill9, startOn, waitCompactions } from '../helpers/durable.js'
import { tempDir } from '../helpers/server.js'

// DESIGN.md §Memory per key: a value of at most 128 bytes (or a tombstone) is
// kept in a cell with its version (lib/store/cells.ts), written over in place
// when the new value has the same size class and moved to another cell when not;
// larger values are objects holding a Buffer. Clients must not be able to tell:
// every byte comes back, through the string commands, expiry, and a restart from
// the log and from a snapshot.

/** Bytes of every value 0..255, n of them, starting at `from`. */
const bytes = (n: number, from = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i * 7) % 256))

/** Lengths on both sides of a cell's limit (128), and the empty value. */
const LENGTHS = [0, 1, 12, 127, 128, 129, 1000]

async function get (client: RespClient, key: string): Promise<Buffer | null> {
  const reply = await client.expect(['GET', key])
  if (reply !== null && !Buffer.isBuffer(reply)) throw new Error(`GET ${key}: ${String(reply)}`)
  return reply
}

/** Writes every form and returns what each key must read back. */
async function writeEveryForm (client: RespClient): Promise<Map<string, Buffer>> {
  const expected = new Map<string, Buffer>()
  for (const n of LENGTHS) {
    await client.expect(['SET', `once:${n}`, bytes(n)]) // a cell when n <= 128
    expected.set(`once:${n}`, bytes(n))
    await client.expect(['SET', `over:${n}`, bytes(n, 1)])
    await client.expect(['SET', `over:${n}`, bytes(n, 2)]) // written over in place (its cell, or its object's Buffer)
    expected.set(`over:${n}`, bytes(n, 2))
    await client.expect(['SET', `ttl:${n}`, bytes(n, 3)])
    await client.expect(['EXPIRE', `ttl:${n}`, '1000']) // an expiry change: the value stays where it is
    expected.set(`ttl:${n}`, bytes(n, 3))
  }
  await client.expect(['SET', 'grow', bytes(100)])
  await client.expect(['APPEND', 'grow', bytes(100, 5)]) // 200 bytes: past a cell's limit, an object
  for (const n of [10, 100, 200, 50]) await client.expect(['SET', 'moved', bytes(n, n)]) // cell to cell of another size, to an object, back to a cell
  expected.set('moved', bytes(50, 50))
  expected.set('grow', Buffer.concat([bytes(100), bytes(100, 5)]))
  await client.expect(['SET', 'patched', bytes(20)])
  await client.expect(['SETRANGE', 'patched', '30', bytes(5, 9)])
  expected.set('patched', Buffer.concat([bytes(20), Buffer.alloc(10), bytes(5, 9)]))
  return expected
}

async function checkAll (t: Test, client: RespClient, expected: Map<string, Buffer>, when: string): Promise<void> {
  let same = 0
  for (const [key, value] of expected) {
    const got = await get(client, key)
    if (got !== null && got.equals(value)) same++
    else t.fail(`${when}: ${key} reads ${got === null ? 'nil' : got.toString('hex')}, wrote ${value.toString('hex')}`)
  }
  t.equal(same, expected.size, `${when}: all ${expected.size} keys read back byte for byte`)
}

t.test('every form a value is kept in reads back byte for byte, also after restarts', async t => {
  const dir = tempDir(t)
  let server = await startOn(t, dir)
  let client = await clientOf(t, server)
  const expected = await writeEveryForm(client)
  await checkAll(t, client, expected, 'written')

  for (const n of LENGTHS) {
    t.equal(await client.expect(['STRLEN', `once:${n}`]), n)
    const range = await client.expect(['GETRANGE', `once:${n}`, '1', '-2'])
    t.same(range, bytes(n).subarray(1, Math.max(1, n - 1)), `GETRANGE of a ${n}-byte value`)
    const ttl = Number(await client.expect(['TTL', `ttl:${n}`]))
    t.ok(ttl > 990 && ttl <= 1000, `the ${n}-byte key keeps its expiry (${ttl})`)
  }
  t.equal(await client.expect(['PERSIST', 'ttl:12']), 1)
  t.equal(await client.expect(['TTL', 'ttl:12']), -1, 'PERSIST takes the expiry away')
  t.equal(String(await client.expect(['OBJECT', 'ENCODING', 'once:12'])), 'embstr', 'OBJECT ENCODING is by bytes, whatever the form')
  await client.expect(['SET', 'number', '12345'])
  t.equal(await client.expect(['INCR', 'number']), 12346, 'INCR reads a value in a cell')
  expected.set('number', Buffer.from('12346'))

  // From the log (a clean stop), then from a snapshot and the log after it (a kill -9).
  client.close()
  server.process.kill('SIGTERM')
  await server.exited
  server = await startOn(t, dir)
  client = await clientOf(t, server)
  await checkAll(t, client, expected, 'restarted from the log')
  await client.expect(['BGREWRITEAOF'])
  await waitCompactions(client, 1)
  await client.expect(['SET', 'after-snapshot', bytes(50, 4)])
  expected.set('after-snapshot', bytes(50, 4))
  client.close()
  await kill9(server)
  server = await startOn(t, dir)
  client = await clientOf(t, server)
  await checkAll(t, client, expected, 'restarted from a snapshot and the log')
  t.ok(Number(await client.expect(['TTL', 'ttl:128'])) > 900, 'expiries survive the restarts')
})
