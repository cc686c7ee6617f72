import t from 'tap'
import { DEFAULTS, KeystoneNode, resolveOptions } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { Server } from '../../lib/server/server.js'
import { caller, connect, holdFor, rawConnect, spawnServer, startNode, waitFor } from '../helpers/server.js'

// PROTOCOL.md §SLOWLOG: GET [count], LEN, RESET, HELP; --slowlog-log-slower-than
// and --slowlog-max-len; arguments cut as Redis cuts them.

type Entry = [number, number, number, string[], string, string]

const err = (message: string): RespError => new RespError(message)

t.test('slower-than 0 logs every command run, newest first, with its arguments, address and name', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0 })
  const call = caller(await connect(t, node))
  const addr = /addr=(\S+)/.exec(String(await call('CLIENT', 'INFO')))?.[1]
  t.equal(await call('SLOWLOG', 'RESET'), 'OK')
  const before = Math.floor(Date.now() / 1000)
  t.equal(await call('SET', 'k', 'v'), 'OK')
  t.equal(await call('CLIENT', 'SETNAME', 'bob'), 'OK')
  t.equal(await call('GET', 'k'), 'v')
  t.same(await call('GET'), err("ERR wrong number of arguments for 'get' command"), 'refused: not run, not logged')
  t.same(await call('INCR', 'k'), err('ERR value is not an integer or out of range'), 'failed: run, logged')
  const entries = await call('SLOWLOG', 'GET') as Entry[]
  t.same(entries.map(e => [e[3], e[4], e[5]]), [
    [['INCR', 'k'], addr, 'bob'],
    [['GET', 'k'], addr, 'bob'],
    [['CLIENT', 'SETNAME', 'bob'], addr, 'bob'],
    [['SET', 'k', 'v'], addr, ''],
    [['SLOWLOG', 'RESET'], addr, '']
  ], 'arguments as sent; the name as it is once the command ran; RESET is logged once it ran')
  t.same(entries.map(e => e[0]), [5, 4, 3, 2, 1], 'ids count up (from 0: CLIENT INFO was 0)')
  for (const [, time, duration] of entries) {
    t.ok(time >= before && time <= Math.floor(Date.now() / 1000), 'unix seconds')
    t.ok(Number.isInteger(duration) && duration >= 0 && duration < 1_000_000, `duration ${duration} µs`)
  }
  t.equal(await call('SLOWLOG', 'LEN'), 6, 'SLOWLOG GET itself is logged once it ran')
  t.same((await call('SLOWLOG', 'GET', '2') as Entry[]).map(e => e[3]), [['SLOWLOG', 'LEN'], ['SLOWLOG', 'GET']], 'GET n: the n newest')
  t.same(await call('SLOWLOG', 'GET', '0'), [])
  t.equal((await call('SLOWLOG', 'GET', '-1') as Entry[]).length, 9, 'GET -1: every entry')
  t.equal(await call('SLOWLOG', 'RESET'), 'OK')
  t.same((await call('SLOWLOG', 'GET') as Entry[]).map(e => [e[0], e[3]]), [[11, ['SLOWLOG', 'RESET']]], 'RESET empties it; ids go on')
})

t.test('SLOWLOG GET: 10 entries by default', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0 })
  const call = caller(await connect(t, node))
  for (let i = 0; i < 15; i++) await call('PING', String(i))
  const entries = await call('SLOWLOG', 'GET') as Entry[]
  t.same(entries.map(e => e[3][1]), ['14', '13', '12', '11', '10', '9', '8', '7', '6', '5'])
})

t.test('--slowlog-max-len: the oldest entries go', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0, slowlogMaxLen: 3 })
  const call = caller(await connect(t, node))
  for (let i = 0; i < 5; i++) await call('PING', String(i))
  t.equal(await call('SLOWLOG', 'LEN'), 3)
  t.same((await call('SLOWLOG', 'GET', '-1') as Entry[]).map(e => [e[0], e[3]]), [
    [5, ['SLOWLOG', 'LEN']], [4, ['PING', '4']], [3, ['PING', '3']]
  ])
  const none = await startNode(t, { slowlogLogSlowerThan: 0, slowlogMaxLen: 0 })
  const call0 = caller(await connect(t, none))
  await call0('PING')
  t.equal(await call0('SLOWLOG', 'LEN'), 0, 'max-len 0 keeps nothing')
})

t.test('arguments: at most 32, each at most 128 bytes, as Redis cuts them; secrets redacted', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0 })
  const call = caller(await connect(t, node))
  await call('SET', 'a', 'x'.repeat(200))
  const keys = Array.from({ length: 40 }, (_, i) => String(i + 1))
  await call('DEL', ...keys)
  await call('AUTH', 'secret')
  await call('HELLO', '2', 'AUTH', 'default', 'secret', 'SETNAME', 'me')
  const entries = await call('SLOWLOG', 'GET', '4') as Entry[]
  t.same(entries.map(e => e[3]), [
    ['HELLO', '2', 'AUTH', '(redacted)', '(redacted)', 'SETNAME', 'me'],
    ['AUTH', '(redacted)'],
    ['DEL', ...keys.slice(0, 30), '... (10 more arguments)'],
    ['SET', 'a', 'x'.repeat(128) + '... (72 more bytes)']
  ])
  await call('SET', 'b', 'y'.repeat(128))
  t.same((await call('SLOWLOG', 'GET', '1') as Entry[])[0]?.[3], ['SET', 'b', 'y'.repeat(128)], '128 bytes are kept whole')
})

t.test('EXEC: its commands are logged one by one, EXEC itself not', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0 })
  const raw = await rawConnect(t, node)
  raw.send('MULTI\r\nSET q 1\r\nGET q\r\nEXEC\r\nSLOWLOG GET\r\n')
  const replies = await raw.replies(5)
  t.same((replies[4] as Array<[number, number, number, Buffer[]]>).map(e => e[3].map(String)), [['GET', 'q'], ['SET', 'q', '1'], ['MULTI']])
})

t.test('slower-than -1 logs nothing; the default 10000 µs logs none of these', async t => {
  for (const options of [{ slowlogLogSlowerThan: -1 }, {}]) {
    const node = await startNode(t, options)
    const call = caller(await connect(t, node))
    for (let i = 0; i < 20; i++) await call('SET', `k${i}`, 'v')
    t.equal(await call('SLOWLOG', 'LEN'), 0)
    t.same(await call('SLOWLOG', 'GET', '-1'), [])
  }
})

t.test('a write\'s duration is its execution, not the wait for replication', async t => {
  let open: () => void = () => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  let shut = true
  void gate.then(() => { shut = false })
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', slowlogLogSlowerThan: 0 }, { log: silentLogger })
  const server = new Server(node, node.table, () => (shut ? gate : null))
  t.teardown(() => server.close(100))
  t.teardown(() => node.close())
  const address = await server.listen()
  const call = caller(await connect(t, address))
  const reply = call('SET', 'k', 'v')
  await waitFor(() => node.stats.slowlog.length === 1, 5000, 'the SET to run')
  await holdFor(300, 'the barrier holds the reply this long')
  open()
  t.equal(await reply, 'OK')
  const [entry] = await call('SLOWLOG', 'GET', '-1').then(r => (r as Entry[]).slice(-1))
  t.same(entry?.[3], ['SET', 'k', 'v'])
  t.ok((entry?.[2] ?? Infinity) < 300_000, `duration ${String(entry?.[2])} µs leaves out the 300 ms wait`)
})

t.test('SLOWLOG errors, as Redis 7.0', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.same(await call('SLOWLOG'), err("ERR wrong number of arguments for 'slowlog' command"))
  t.same(await call('SLOWLOG', 'FOO'), err("ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."))
  t.same(await call('SLOWLOG', 'LEN', 'x'), err("ERR wrong number of arguments for 'slowlog|len' command"))
  t.same(await call('SLOWLOG', 'RESET', 'x'), err("ERR wrong number of arguments for 'slowlog|reset' command"))
  t.same(await call('SLOWLOG', 'HELP', 'x'), err("ERR wrong number of arguments for 'slowlog|help' command"))
  t.same(await call('SLOWLOG', 'GET', '1', '2'), err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."))
  for (const count of ['-2', 'abc', '1.5', '', '99999999999999999999']) {
    t.same(await call('SLOWLOG', 'GET', count), err('ERR count should be greater than or equal to -1'), `GET ${count}`)
  }
  const help = await call('slowlog', 'help') as string[]
  t.equal(help[0], 'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:')
  t.equal(help.length, 12)
})

t.test('the two options: flags as strings, Redis\'s ranges', async t => {
  t.same([DEFAULTS.slowlogLogSlowerThan, DEFAULTS.slowlogMaxLen], [10000, 128])
  const options = resolveOptions({ slowlogLogSlowerThan: '-1', slowlogMaxLen: '0' })
  t.same([options.slowlogLogSlowerThan, options.slowlogMaxLen], [-1, 0])
  t.throws(() => resolveOptions({ slowlogLogSlowerThan: '-2' }), new TypeError("--slowlog-log-slower-than must be an integer from -1 to 9007199254740991, got '-2'"))
  t.throws(() => resolveOptions({ slowlogLogSlowerThan: '1.5' }), TypeError)
  t.throws(() => resolveOptions({ slowlogMaxLen: '-1' }), new TypeError("--slowlog-max-len must be an integer from 0 to 2147483647, got '-1'"))
})

t.test('keystone-server --slowlog-log-slower-than=0 --slowlog-max-len 2', async t => {
  const server = await spawnServer(t, ['--port', '0', '--data-dir', '', '--slowlog-log-slower-than=0', '--slowlog-max-len', '2'])
  const call = caller(await connect(t, server))
  for (let i = 0; i < 3; i++) await call('PING', String(i))
  t.same((await call('SLOWLOG', 'GET') as Entry[]).map(e => e[3]), [['PING', '2'], ['PING', '1']])
})
