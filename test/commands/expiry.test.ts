import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode, waitFor } from '../helpers/server.js'

// EXPIRE, PEXPIRE (NX XX GT LT), TTL, PTTL, PERSIST through a real socket.
// Short real TTLs, polled for: no fixed sleeps.

const err = (message: string): RespError => new RespError(message)

t.test('TTL and PTTL', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('TTL', 'missing'), -2)
  t.equal(await call('PTTL', 'missing'), -2)
  await call('SET', 'k', 'v')
  t.equal(await call('TTL', 'k'), -1, 'no expiry')
  t.equal(await call('PTTL', 'k'), -1)
  t.equal(await call('EXPIRE', 'k', '50'), 1)
  t.equal(await call('TTL', 'k'), 50)
  const ms = await call('PTTL', 'k') as number
  t.ok(ms > 49000 && ms <= 50000, `PTTL in milliseconds (${ms})`)
  // Values near the middle of a second leave ~0.5 s for a busy machine between the two calls.
  t.equal(await call('PEXPIRE', 'k', '2990'), 1)
  t.equal(await call('TTL', 'k'), 3, 'TTL rounds to the nearest second, as Redis')
  t.equal(await call('PEXPIRE', 'k', '2010'), 1)
  t.equal(await call('TTL', 'k'), 2)
  t.same(await call('TTL'), err("ERR wrong number of arguments for 'ttl' command"))
  t.same(await call('PTTL', 'a', 'b'), err("ERR wrong number of arguments for 'pttl' command"))
})

t.test('EXPIRE and PEXPIRE make keys go away', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('MSET', 'a', '1', 'b', '2', 'keep', '3')
  t.equal(await call('PEXPIRE', 'a', '50'), 1)
  t.equal(await call('EXPIRE', 'b', '1'), 1)
  await waitFor(async () => await call('EXISTS', 'a') === 0, 3000, 'a to expire')
  await waitFor(async () => await call('GET', 'b') === null, 4000, 'b to expire')
  t.equal(await call('TTL', 'a'), -2)
  t.equal(await call('GET', 'keep'), '3')
  t.equal(await call('EXPIRE', 'missing', '10'), 0, 'a missing key: 0')
})

t.test('expired keys are reclaimed without being touched', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const args: string[] = []
  for (let i = 0; i < 100; i++) args.push(`k${i}`, 'v')
  await call('MSET', ...args)
  for (let i = 0; i < 100; i++) await call('PEXPIRE', `k${i}`, '30')
  await call('SET', 'stay', 'v')
  // DBSIZE counts expired keys not yet reclaimed, so this waits on active expiry.
  await waitFor(async () => await call('DBSIZE') === 1, 3000, 'active expiry')
  t.equal(await call('DBSIZE'), 1)
  t.match(String(await call('INFO', 'stats')), /expired_keys:100\r\n/)
})

t.test('a zero or negative expiry deletes the key', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('MSET', 'a', '1', 'b', '2')
  t.equal(await call('EXPIRE', 'a', '0'), 1)
  t.equal(await call('PEXPIRE', 'b', '-100'), 1)
  t.equal(await call('EXISTS', 'a', 'b'), 0)
})

t.test('EXPIRE NX XX GT LT', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('SET', 'k', 'v')
  t.equal(await call('EXPIRE', 'k', '100', 'XX'), 0, 'XX: no expiry yet, so not set')
  t.equal(await call('EXPIRE', 'k', '100', 'GT'), 0, 'GT: no expiry counts as infinite')
  t.equal(await call('TTL', 'k'), -1)
  t.equal(await call('EXPIRE', 'k', '100', 'NX'), 1, 'NX: no expiry yet, so set')
  t.equal(await call('EXPIRE', 'k', '200', 'NX'), 0, 'NX: has one, not set')
  t.equal(await call('TTL', 'k'), 100)
  t.equal(await call('EXPIRE', 'k', '200', 'XX'), 1)
  t.equal(await call('TTL', 'k'), 200)
  t.equal(await call('EXPIRE', 'k', '150', 'GT'), 0, 'GT: shorter, not set')
  t.equal(await call('EXPIRE', 'k', '300', 'gt'), 1, 'GT: longer, set')
  t.equal(await call('EXPIRE', 'k', '400', 'LT'), 0, 'LT: longer, not set')
  t.equal(await call('EXPIRE', 'k', '250', 'LT'), 1, 'LT: shorter, set')
  t.equal(await call('TTL', 'k'), 250)
  t.equal(await call('EXPIRE', 'k', '240', 'XX', 'LT'), 1, 'XX and LT together')
  t.equal(await call('PERSIST', 'k'), 1)
  t.equal(await call('EXPIRE', 'k', '100', 'LT'), 1, 'LT: no expiry counts as infinite')
  t.equal(await call('TTL', 'k'), 100)
  t.equal(await call('PEXPIRE', 'k', '200000', 'GT'), 1, 'PEXPIRE takes the options too')
  t.equal(await call('TTL', 'k'), 200)
  t.equal(await call('PEXPIRE', 'missing', '100', 'NX'), 0)
})

t.test('EXPIRE errors', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('SET', 'k', 'v')
  const incompatible = err('ERR NX and XX, GT or LT options at the same time are not compatible')
  t.same(await call('EXPIRE', 'k', '10', 'NX', 'XX'), incompatible)
  t.same(await call('EXPIRE', 'k', '10', 'NX', 'GT'), incompatible)
  t.same(await call('PEXPIRE', 'k', '10', 'LT', 'NX'), incompatible)
  t.same(await call('EXPIRE', 'k', '10', 'GT', 'LT'), err('ERR GT and LT options at the same time are not compatible'))
  t.same(await call('EXPIRE', 'k', '10', 'SOON'), err('ERR Unsupported option SOON'))
  t.same(await call('EXPIRE', 'k', 'ten'), err('ERR value is not an integer or out of range'))
  t.same(await call('EXPIRE', 'k', '1.5'), err('ERR value is not an integer or out of range'))
  t.same(await call('EXPIRE', 'k'), err("ERR wrong number of arguments for 'expire' command"))
  t.equal(await call('TTL', 'k'), -1, 'no refused EXPIRE changed anything')
})

t.test('PERSIST', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('PERSIST', 'missing'), 0)
  await call('SET', 'k', 'v', 'PX', '200')
  t.equal(await call('PERSIST', 'k'), 1)
  t.equal(await call('PERSIST', 'k'), 0, 'no expiry left to remove')
  t.equal(await call('TTL', 'k'), -1)
  // Outlives its old TTL: wait until a key set alongside with the same TTL is gone.
  await call('SET', 'witness', 'v', 'PX', '200')
  await waitFor(async () => await call('EXISTS', 'witness') === 0, 3000, 'the witness to expire')
  t.equal(await call('GET', 'k'), 'v', 'a persisted key stays')
  t.same(await call('PERSIST'), err("ERR wrong number of arguments for 'persist' command"))
})
