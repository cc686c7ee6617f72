import Redis, { type RedisOptions } from 'ioredis'
import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { startNode, waitFor, type Teardown } from '../helpers/server.js'

// A real client library against a node in this process (CONTRACT: common
// clients must connect and work).

/** An ioredis client that never retries (a failure should fail the test), quit in teardown. */
async function ioredis (t: Teardown, node: KeystoneNode, options: RedisOptions = {}): Promise<Redis> {
  const { host, port } = node.address()
  const redis = new Redis({ host, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...options })
  t.teardown(() => redis.status === 'end' ? undefined : redis.quit().catch(() => redis.disconnect()))
  redis.on('error', () => {}) // surfaced through the rejected commands instead
  await redis.connect()
  return redis
}

t.test('connects (with the ready check, which sends INFO) and runs commands', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node, { enableReadyCheck: true })
  t.equal(redis.status, 'ready')
  t.equal(await redis.ping(), 'PONG')
  t.equal(await redis.set('k', 'v'), 'OK')
  t.equal(await redis.get('k'), 'v')
  t.equal(await redis.get('missing'), null)
  t.equal(await redis.set('k', 'w', 'NX'), null)
  t.equal(await redis.set('n', '1', 'EX', 100, 'NX'), 'OK')
  t.equal(await redis.mset({ a: '1', b: '2' }), 'OK')
  t.equal(await redis.mset('c', '3', 'd', '4'), 'OK')
  t.same(await redis.mget('a', 'missing', 'd'), ['1', null, '4'])
  t.equal(await redis.exists('a', 'b', 'zz'), 2)
  t.equal(await redis.del('a', 'b', 'zz'), 2)
  t.equal(await redis.expire('c', 100), 1)
  t.equal(await redis.ttl('c'), 100)
  t.equal(await redis.ttl('missing'), -2)
  t.equal(await redis.pexpire('d', 30), 1)
  await waitFor(async () => await redis.exists('d') === 0, 3000, 'd to expire')
  t.equal(await redis.persist('c'), 1)
  t.equal(await redis.ttl('c'), -1)
  t.equal(await redis.dbsize(), 3)
  t.same((await redis.keys('*')).sort(), ['c', 'k', 'n'])
  t.equal(await redis.echo('hi'), 'hi')
  t.match(await redis.info('server'), /# Server\r\nredis_version:/)
  t.same(await redis.config('GET', 'maxclients'), ['maxclients', '10000'])
  t.equal(await redis.flushall(), 'OK')
  t.equal(await redis.dbsize(), 0)
})

t.test('error replies reject with the Redis error text', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node)
  await t.rejects(redis.call('NOPE'), { message: "ERR unknown command 'NOPE', with args beginning with: " })
  await t.rejects(redis.set('k', 'v', 'EX', 0), { message: "ERR invalid expire time in 'set' command" })
  t.equal(await redis.ping(), 'PONG', 'the connection is still good')
})

t.test('scanStream visits every key', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node)
  const expected: string[] = []
  const pipeline = redis.pipeline()
  for (let i = 0; i < 2500; i++) {
    const key = `${i % 2 === 0 ? 'even' : 'odd'}:${i}`
    expected.push(key)
    pipeline.set(key, String(i))
  }
  await pipeline.exec()
  const scan = async (options: { match?: string, count?: number }): Promise<string[]> => {
    const seen = new Set<string>()
    for await (const batch of redis.scanStream(options)) for (const key of batch as string[]) seen.add(key)
    return [...seen].sort()
  }
  t.same(await scan({ count: 100 }), [...expected].sort())
  t.same(await scan({ match: 'even:*', count: 500 }), expected.filter(k => k.startsWith('even:')).sort())
})

t.test('pipelines: replies in order, errors in place', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node)
  const results = await redis.pipeline()
    .set('p', '1')
    .get('p')
    .call('NOPE')
    .exec()
  t.ok(results !== null)
  const [set, get, nope] = results ?? []
  t.same(set, [null, 'OK'])
  t.same(get, [null, '1'])
  t.match(nope?.[0], { message: /^ERR unknown command 'NOPE'/ })

  // Many commands without MULTI: each reply lands with its command.
  const many = redis.pipeline()
  for (let i = 0; i < 1000; i++) many.set(`k${i}`, `v${i}`).get(`k${i}`)
  const replies = await many.exec()
  t.equal(replies?.length, 2000)
  t.ok(replies?.every(([err, value], i) => err === null && value === (i % 2 === 0 ? 'OK' : `v${(i - 1) / 2}`)), 'every reply matches its command')

  // Concurrent commands on one connection are pipelined by ioredis too.
  const values = await Promise.all(Array.from({ length: 500 }, (_, i) => redis.get(`k${i}`)))
  t.same(values, Array.from({ length: 500 }, (_, i) => `v${i}`))
})

t.test('Buffer values round trip', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node)
  const value = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 31) & 0xff))
  const key = Buffer.from([0, 1, 2, 0xff, 13, 10])
  t.equal(await redis.set(key, value), 'OK')
  const back = await redis.getBuffer(key)
  t.ok(back !== null && back.equals(value), 'getBuffer returns the same bytes')
  const [first] = await redis.mgetBuffer(key)
  t.ok(first?.equals(value))
  t.ok((await redis.keysBuffer('*'))[0]?.equals(key), 'the key comes back as the same bytes')
})

t.test('auth via the password option', async t => {
  const node = await startNode(t, { requirepass: 'hunter2' })
  const good = await ioredis(t, node, { password: 'hunter2' })
  t.equal(await good.set('k', 'v'), 'OK')
  t.equal(await good.get('k'), 'v')

  const none = await ioredis(t, node, { enableReadyCheck: false })
  await t.rejects(none.get('k'), { message: /^NOAUTH Authentication required/ })

  const { host, port } = node.address()
  const wrong = new Redis({ host, port, password: 'wrong', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  t.teardown(() => { if (wrong.status !== 'end') wrong.disconnect() })
  const errors: string[] = []
  wrong.on('error', (err: Error) => errors.push(err.message))
  await t.rejects(wrong.connect().then(() => wrong.get('k')), 'a wrong password: no connection')
  t.match(errors, [/^WRONGPASS invalid username-password pair/], 'ioredis reports WRONGPASS')
})

t.test('quit and disconnect are clean', async t => {
  const node = await startNode(t)
  const redis = await ioredis(t, node)
  await redis.set('k', 'v')
  t.equal(await redis.quit(), 'OK')
  await waitFor(() => redis.status === 'end', 3000, 'the client to end')
  await waitFor(() => node.server.connections.size === 0, 3000, 'the server to see it go')
  t.pass('the server let the connection go')
})
