import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode } from '../helpers/server.js'

// KEYS, SCAN, DBSIZE, FLUSHALL through a real socket.

const err = (message: string): RespError => new RespError(message)
const sorted = (reply: unknown): string[] => [...(reply as string[])].sort()

/** SCAN from 0 until the cursor comes back to 0; every key seen, and how many calls it took. */
async function scanAll (call: (...args: string[]) => Promise<unknown>, ...options: string[]): Promise<{ keys: string[], calls: number }> {
  const keys: string[] = []
  let cursor = '0'
  let calls = 0
  do {
    const [next, batch] = await call('SCAN', cursor, ...options) as [string, string[]]
    cursor = next
    keys.push(...batch)
    calls++
  } while (cursor !== '0' && calls < 100000)
  return { keys, calls }
}

t.test('KEYS', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.same(await call('KEYS', '*'), [], 'an empty store')
  await call('MSET', 'user:1', 'a', 'user:2', 'b', 'user:10', 'c', 'order:1', 'd', 'h?llo', 'e', 'hallo', 'f', 'hello', 'g')
  t.same(sorted(await call('KEYS', '*')), ['h?llo', 'hallo', 'hello', 'order:1', 'user:1', 'user:10', 'user:2'])
  t.same(sorted(await call('KEYS', 'user:*')), ['user:1', 'user:10', 'user:2'])
  t.same(sorted(await call('KEYS', 'user:?')), ['user:1', 'user:2'])
  t.same(sorted(await call('KEYS', 'h[ae]llo')), ['hallo', 'hello'])
  t.same(sorted(await call('KEYS', 'h[^e]llo')), ['h?llo', 'hallo'])
  t.same(sorted(await call('KEYS', 'h\\?llo')), ['h?llo'], 'an escaped wildcard is literal')
  t.same(await call('KEYS', 'USER:*'), [], 'matching is case-sensitive')
  t.same(await call('KEYS', 'nothing*'), [])
  await call('DEL', 'user:1')
  await call('SET', 'gone', 'v', 'PXAT', '1')
  t.same(sorted(await call('KEYS', 'user:*')), ['user:10', 'user:2'], 'deleted keys are not listed')
  t.same(await call('KEYS', 'gone'), [], 'expired keys are not listed')
  t.same(await call('KEYS'), err("ERR wrong number of arguments for 'keys' command"))
})

t.test('SCAN over a few thousand keys returns every key', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const expected: string[] = []
  const args: string[] = []
  for (let i = 0; i < 3000; i++) {
    const key = i % 3 === 0 ? `even:${i}` : `key:${i}`
    expected.push(key)
    args.push(key, String(i))
  }
  t.equal(await call('MSET', ...args), 'OK')

  const plain = await scanAll(call)
  t.same([...new Set(plain.keys)].sort(), [...expected].sort(), 'every key, default COUNT')
  t.equal(plain.keys.length, new Set(plain.keys).size, 'no key twice when nothing changes')
  t.ok(plain.calls > 1, `it takes more than one call (${plain.calls})`)

  const big = await scanAll(call, 'COUNT', '1000')
  t.same([...new Set(big.keys)].sort(), [...expected].sort(), 'every key, COUNT 1000')
  t.ok(big.calls < plain.calls, `COUNT makes bigger steps (${big.calls} < ${plain.calls})`)

  const matched = await scanAll(call, 'MATCH', 'even:*', 'COUNT', '200')
  t.same([...new Set(matched.keys)].sort(), expected.filter(k => k.startsWith('even:')).sort(), 'MATCH filters')

  const all = await scanAll(call, 'match', '*')
  t.equal(new Set(all.keys).size, 3000, "MATCH '*' is everything")

  const typed = await scanAll(call, 'TYPE', 'string', 'COUNT', '1000')
  t.equal(new Set(typed.keys).size, 3000, 'TYPE string: every key is a string')
  const none = await scanAll(call, 'TYPE', 'hash', 'COUNT', '1000')
  t.same(none.keys, [], 'TYPE hash: none')
})

t.test('SCAN while keys are added and removed returns every key present throughout', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const stable: string[] = []
  const args: string[] = []
  for (let i = 0; i < 1000; i++) {
    stable.push(`stable:${i}`)
    args.push(`stable:${i}`, 'v', `churn:${i}`, 'v')
  }
  await call('MSET', ...args)
  const seen = new Set<string>()
  let cursor = '0'
  let step = 0
  do {
    const [next, batch] = await call('SCAN', cursor, 'COUNT', '50') as [string, string[]]
    for (const key of batch) seen.add(key)
    await call('DEL', `churn:${step}`)
    await call('SET', `new:${step}`, 'v')
    cursor = next
    step++
  } while (cursor !== '0')
  t.same(stable.filter(k => !seen.has(k)), [], 'no stable key missed')
})

t.test('SCAN errors', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.same(await call('SCAN', '0'), ['0', []], 'an empty store: cursor 0, no keys')
  t.same(await call('SCAN', 'abc'), err('ERR invalid cursor'))
  t.same(await call('SCAN', '-1'), err('ERR invalid cursor'))
  t.same(await call('SCAN', '0', 'COUNT'), err('ERR syntax error'))
  t.same(await call('SCAN', '0', 'COUNT', '0'), err('ERR syntax error'))
  t.same(await call('SCAN', '0', 'COUNT', 'many'), err('ERR value is not an integer or out of range'))
  t.same(await call('SCAN', '0', 'MATCH'), err('ERR syntax error'))
  t.same(await call('SCAN', '0', 'SORTED', 'yes'), err('ERR syntax error'))
  t.same(await call('SCAN'), err("ERR wrong number of arguments for 'scan' command"))
})

t.test('DBSIZE and FLUSHALL', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('DBSIZE'), 0)
  await call('MSET', 'a', '1', 'b', '2', 'c', '3')
  t.equal(await call('DBSIZE'), 3)
  await call('DEL', 'a')
  t.equal(await call('DBSIZE'), 2)
  t.equal(await call('FLUSHALL'), 'OK')
  t.equal(await call('DBSIZE'), 0)
  t.same(await call('KEYS', '*'), [])
  t.equal(await call('GET', 'b'), null)
  await call('SET', 'x', '1')
  t.equal(await call('FLUSHALL', 'ASYNC'), 'OK')
  t.equal(await call('DBSIZE'), 0)
  t.equal(await call('FLUSHALL', 'sync'), 'OK')
  t.same(await call('FLUSHALL', 'LATER'), err('ERR syntax error'))
  t.same(await call('FLUSHALL', 'SYNC', 'ASYNC'), err('ERR syntax error'))
  t.same(await call('DBSIZE', 'x'), err("ERR wrong number of arguments for 'dbsize' command"))
  t.equal(await call('SET', 'after', 'v'), 'OK', 'writes work after a flush')
  t.equal(await call('DBSIZE'), 1)
})
