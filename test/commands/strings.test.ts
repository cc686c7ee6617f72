import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode, waitFor } from '../helpers/server.js'

// GET, SET (every option), MGET, MSET, DEL, EXISTS through a real socket.

const err = (message: string): RespError => new RespError(message)
const SYNTAX = err('ERR syntax error')
const NOT_INTEGER = err('ERR value is not an integer or out of range')
const BAD_EXPIRE = err("ERR invalid expire time in 'set' command")
const arity = (name: string): RespError => err(`ERR wrong number of arguments for '${name}' command`)

t.test('GET and SET', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('GET', 'k'), null, 'a missing key is nil')
  t.equal(await call('SET', 'k', 'v'), 'OK')
  t.equal(await call('GET', 'k'), 'v')
  t.equal(await call('SET', 'k', 'v2'), 'OK', 'SET overwrites')
  t.equal(await call('GET', 'k'), 'v2')
  t.equal(await call('SET', 'empty', ''), 'OK')
  t.equal(await call('GET', 'empty'), '', 'an empty value is not nil')
  t.equal(await call('SET', '', 'empty key'), 'OK')
  t.equal(await call('GET', ''), 'empty key')
  t.same(await call('GET'), arity('get'))
  t.same(await call('GET', 'a', 'b'), arity('get'))
  t.same(await call('SET', 'k'), arity('set'))
})

t.test('SET NX and XX', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'k', '1', 'XX'), null, 'XX on a missing key: nil, nothing set')
  t.equal(await call('EXISTS', 'k'), 0)
  t.equal(await call('SET', 'k', '1', 'NX'), 'OK', 'NX on a missing key sets it')
  t.equal(await call('SET', 'k', '2', 'nx'), null, 'NX on an existing key: nil')
  t.equal(await call('GET', 'k'), '1')
  t.equal(await call('SET', 'k', '3', 'XX'), 'OK')
  t.equal(await call('GET', 'k'), '3')
  t.same(await call('SET', 'k', '4', 'NX', 'XX'), SYNTAX)
  t.same(await call('SET', 'k', '4', 'XX', 'NX'), SYNTAX)
  t.equal(await call('GET', 'k'), '3', 'a refused SET changes nothing')
})

t.test('SET GET returns the old value', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'k', '1', 'GET'), null, 'no old value: nil, and it is set')
  t.equal(await call('GET', 'k'), '1')
  t.equal(await call('SET', 'k', '2', 'GET'), '1')
  t.equal(await call('GET', 'k'), '2')
  t.equal(await call('SET', 'k', '3', 'NX', 'GET'), '2', 'NX GET on an existing key: the old value, not set')
  t.equal(await call('GET', 'k'), '2')
  t.equal(await call('SET', 'other', 'x', 'XX', 'GET'), null, 'XX GET on a missing key: nil, not set')
  t.equal(await call('EXISTS', 'other'), 0)
  t.same(await call('SET', 'k', '4', 'GET', 'BOGUS'), SYNTAX)
})

t.test('SET EX, PX, EXAT, PXAT', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'ex', 'v', 'EX', '100'), 'OK')
  t.equal(await call('TTL', 'ex'), 100)
  t.equal(await call('SET', 'px', 'v', 'px', '100000'), 'OK')
  const pttl = await call('PTTL', 'px') as number
  t.ok(pttl > 99000 && pttl <= 100000, `PX sets milliseconds (${pttl})`)
  const inAnHour = Math.floor(Date.now() / 1000) + 3600
  t.equal(await call('SET', 'exat', 'v', 'EXAT', String(inAnHour)), 'OK')
  const ttl = await call('TTL', 'exat') as number
  t.ok(ttl > 3590 && ttl <= 3600, `EXAT is absolute seconds (${ttl})`)
  t.equal(await call('SET', 'pxat', 'v', 'PXAT', String(Date.now() + 50000)), 'OK')
  const p = await call('PTTL', 'pxat') as number
  t.ok(p > 49000 && p <= 50000, `PXAT is absolute milliseconds (${p})`)
  t.equal(await call('SET', 'past', 'v', 'PXAT', '1'), 'OK', 'a time in the past is accepted')
  t.equal(await call('GET', 'past'), null, '... and the key is gone at once')
  t.equal(await call('SET', 'ex', 'plain'), 'OK')
  t.equal(await call('TTL', 'ex'), -1, 'a SET without options clears the TTL')
})

t.test('SET with a short TTL expires', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'short', 'v', 'PX', '60'), 'OK')
  t.equal(await call('SET', 'long', 'v', 'EX', '100'), 'OK')
  t.equal(await call('GET', 'short'), 'v', 'still there right after')
  await waitFor(async () => await call('GET', 'short') === null, 3000, 'the key to expire')
  t.equal(await call('EXISTS', 'short'), 0)
  t.equal(await call('TTL', 'short'), -2)
  t.equal(await call('GET', 'long'), 'v', 'other keys stay')
})

t.test('SET KEEPTTL', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'k', '1', 'EX', '100'), 'OK')
  t.equal(await call('SET', 'k', '2', 'KEEPTTL'), 'OK')
  t.equal(await call('GET', 'k'), '2')
  t.equal(await call('TTL', 'k'), 100, 'the TTL is kept')
  t.equal(await call('SET', 'fresh', '1', 'KEEPTTL'), 'OK')
  t.equal(await call('TTL', 'fresh'), -1, 'KEEPTTL on a new key: no TTL')
})

t.test('SET option errors', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const cases: Array<[string[], RespError]> = [
    [['EX', '10', 'PX', '10000'], SYNTAX],
    [['EX', '10', 'KEEPTTL'], SYNTAX],
    [['KEEPTTL', 'EX', '10'], SYNTAX],
    [['PXAT', '1', 'EXAT', '1'], SYNTAX],
    [['EX'], SYNTAX],
    [['EX', 'ten', 'PX', '10'], SYNTAX],
    [['NX', 'EX', '10', 'XX'], SYNTAX],
    [['BOGUS'], SYNTAX],
    [['NX', 'XX'], SYNTAX],
    [['EX', 'ten'], NOT_INTEGER],
    [['PX', '1.5'], NOT_INTEGER],
    [['EX', '0'], BAD_EXPIRE],
    [['EX', '-1'], BAD_EXPIRE],
    [['PX', '0'], BAD_EXPIRE],
    [['EXAT', '0'], BAD_EXPIRE],
    [['PXAT', '-5'], BAD_EXPIRE]
  ]
  for (const [options, expected] of cases) {
    t.same(await call('SET', 'k', 'v', ...options), expected, `SET k v ${options.join(' ')}`)
  }
  t.equal(await call('EXISTS', 'k'), 0, 'no refused SET wrote anything')
})

t.test('SET takes a repeated option as Redis does', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'k', 'v', 'NX', 'nx'), 'OK')
  t.equal(await call('SET', 'k', 'w', 'XX', 'XX', 'GET', 'GET'), 'v')
  t.equal(await call('SET', 'k', 'x', 'EX', 'ten', 'EX', '100'), 'OK', 'the last number counts')
  t.equal(await call('TTL', 'k'), 100)
  t.equal(await call('SET', 'k', 'y', 'KEEPTTL', 'KEEPTTL'), 'OK')
  t.equal(await call('TTL', 'k'), 100)
  t.same(await call('SET', 'k', 'v', 'EX', '10', 'EX', '0'), BAD_EXPIRE)
})

t.test('MGET and MSET', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('MSET', 'a', '1', 'b', '2', 'c', '3'), 'OK')
  t.same(await call('MGET', 'a', 'missing', 'c', 'b'), ['1', null, '3', '2'])
  t.same(await call('MGET', 'missing'), [null])
  t.equal(await call('MSET', 'a', 'x', 'a', 'y'), 'OK', 'the last of a repeated key wins')
  t.equal(await call('GET', 'a'), 'y')
  t.same(await call('MSET', 'a', '1', 'b'), arity('mset'), 'an odd number of arguments')
  t.same(await call('MSET', 'a'), arity('mset'))
  t.same(await call('MGET'), arity('mget'))
  t.equal(await call('GET', 'b'), '2', 'a refused MSET wrote nothing')
})

t.test('DEL and EXISTS', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('MSET', 'a', '1', 'b', '2', 'c', '3')
  t.equal(await call('EXISTS', 'a', 'b', 'missing'), 2)
  t.equal(await call('EXISTS', 'a', 'a', 'a'), 3, 'a key named twice counts twice')
  t.equal(await call('DEL', 'a', 'missing', 'b'), 2)
  t.equal(await call('DEL', 'a'), 0, 'deleting again removes nothing')
  t.equal(await call('EXISTS', 'a', 'b', 'c'), 1)
  t.equal(await call('GET', 'a'), null)
  t.equal(await call('DEL', 'c', 'c'), 1, 'a key named twice is removed once')
  t.equal(await call('DBSIZE'), 0)
  t.same(await call('DEL'), arity('del'))
  t.same(await call('EXISTS'), arity('exists'))
})
