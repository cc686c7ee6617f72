import t from 'tap'
import { caller, connect, rawConnect, startNode } from '../helpers/server.js'

// PROTOCOL.md §INFO: commandstats, errorstats, keyspace_hits/misses and
// total_error_replies, counted as Redis 7.0 counts them. The expected numbers
// below are what redis-server 7.0.15 printed after the same requests.

/** INFO's `field:value` lines as a map. */
function fieldsOf (text: unknown): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of String(text).split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

interface Counts { calls: number, rejected: number, failed: number, usec: number, perCall: number }

/** `cmdstat_<name>` lines as numbers. */
function commandstats (text: unknown): Map<string, Counts> {
  const out = new Map<string, Counts>()
  for (const [field, value] of fieldsOf(text)) {
    if (!field.startsWith('cmdstat_')) continue
    const m = /^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),rejected_calls=(\d+),failed_calls=(\d+)$/.exec(value)
    if (m === null) throw new Error(`bad line ${field}:${value}`)
    out.set(field.slice('cmdstat_'.length), { calls: Number(m[1]), usec: Number(m[2]), perCall: Number(m[3]), rejected: Number(m[4]), failed: Number(m[5]) })
  }
  return out
}

/** Refused (arity, unknown, unknown subcommand), failed (ran, answered an error), transactions, subcommands. */
const SEQUENCE = [
  'GET', 'FOO a', 'MSET a', 'MSET a b c', 'CONFIG', 'CONFIG GET', 'CONFIG FOO', 'CONFIG GET maxclients',
  'SET a b', 'INCR a',
  'MULTI', 'GET', 'SET a 1', 'EXEC',
  'MULTI', 'SET a 1', 'INCR a', 'WATCH x', 'MULTI', 'EXEC', 'EXEC',
  'SLOWLOG GET 1 2', 'SLOWLOG LEN x', 'SLOWLOG GET -2', 'SLOWLOG GET abc', 'SLOWLOG FOO', 'SLOWLOG',
  'COMMAND COUNT', 'OBJECT ENCODING a', 'CLIENT SETNAME', 'CLIENT ID', 'DISCARD'
]

/** [calls, rejected_calls, failed_calls] per command after SEQUENCE, from redis-server 7.0.15. */
const EXPECTED: Record<string, [number, number, number]> = {
  'client|id': [1, 0, 0],
  'client|setname': [0, 1, 0],
  'command|count': [1, 0, 0],
  config: [0, 1, 0],
  'config|get': [1, 1, 0],
  discard: [1, 0, 1],
  exec: [3, 0, 2],
  get: [0, 2, 0],
  incr: [2, 0, 1],
  mset: [1, 1, 1],
  multi: [3, 0, 1],
  'object|encoding': [1, 0, 0],
  set: [2, 0, 0],
  slowlog: [0, 1, 0],
  'slowlog|get': [3, 0, 3],
  'slowlog|len': [0, 1, 0],
  watch: [1, 0, 1]
}

t.test('commandstats, errorstats and total_error_replies after a known sequence, as Redis 7.0', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send(SEQUENCE.map(c => c + '\r\n').join(''))
  await raw.replies(SEQUENCE.length)
  raw.send('INFO everything\r\n')
  const [text] = await raw.replies(1)
  const stats = commandstats(text)
  const got: Record<string, [number, number, number]> = {}
  for (const [name, c] of stats) got[name] = [c.calls, c.rejected, c.failed]
  t.same(got, EXPECTED, 'calls, rejected_calls, failed_calls per command; subcommands as name|sub')
  const fields = fieldsOf(text)
  t.equal(fields.get('errorstat_ERR'), 'count=20')
  t.equal(fields.get('errorstat_EXECABORT'), 'count=1')
  t.same([...fields.keys()].filter(k => k.startsWith('errorstat_')), ['errorstat_ERR', 'errorstat_EXECABORT'], 'no other error codes')
  t.equal(fields.get('total_error_replies'), '21')
  t.equal(fields.get('total_commands_processed'), '20', 'commands run: not refused or queued ones, each of an EXEC\'s')
  for (const [name, c] of stats) {
    if (c.calls === 0) {
      t.same([c.usec, c.perCall], [0, 0], `${name}: no time without a call`)
      continue
    }
    t.ok(c.usec < 1_000_000 * c.calls, `${name}: usec=${c.usec} is plausible`)
    t.ok(Math.abs(c.perCall - c.usec / c.calls) <= 1 / c.calls + 0.01, `${name}: usec_per_call=${c.perCall} is usec/calls`)
  }
})

t.test('commandstats: usec is the handler\'s time, and a slowlog entry shows the same', async t => {
  const node = await startNode(t, { slowlogLogSlowerThan: 0 })
  const call = caller(await connect(t, node))
  const pairs: string[] = []
  for (let i = 0; i < 20000; i++) pairs.push(`key:${i}`, 'value')
  t.equal(await call('MSET', ...pairs), 'OK')
  const stats = commandstats(await call('INFO', 'commandstats'))
  const mset = stats.get('mset')
  t.equal(mset?.calls, 1)
  t.ok((mset?.usec ?? 0) >= 100, `20000 keys written take time: usec=${String(mset?.usec)}`)
  const log = await call('SLOWLOG', 'GET', '-1') as unknown[][]
  const entry = log.find(e => (e[3] as string[])[0] === 'MSET')
  t.equal(entry?.[2], mset?.usec, 'the slowlog\'s duration is the same measure')
})

t.test('INFO errorstats is in the default INFO; commandstats only when asked for', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('GET')
  t.match(String(await call('INFO')), /\r\n# Errorstats\r\nerrorstat_ERR:count=1\r\n/)
  t.notMatch(String(await call('INFO')), /# Commandstats/)
  t.match(String(await call('INFO', 'commandstats')), /^# Commandstats\r\ncmdstat_get:calls=0,usec=0,usec_per_call=0\.00,rejected_calls=1,failed_calls=0\r\ncmdstat_info:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n$/)
  t.equal(await call('INFO', 'errorstats'), '# Errorstats\r\nerrorstat_ERR:count=1\r\n')
})

t.test('errorstats: keyed by the error\'s first word; NOAUTH refusals count as rejected calls', async t => {
  const node = await startNode(t, { requirepass: 'pw' })
  const raw = await rawConnect(t, node)
  raw.send('GET a\r\nSET a b\r\nAUTH nope\r\nAUTH pw\r\nSET a b\r\nINCRBYFLOAT a 1\r\nINFO everything\r\n')
  const replies = await raw.replies(7)
  const fields = fieldsOf(replies[6])
  t.equal(fields.get('errorstat_NOAUTH'), 'count=2')
  t.equal(fields.get('errorstat_WRONGPASS'), 'count=1')
  t.equal(fields.get('errorstat_ERR'), 'count=1', 'INCRBYFLOAT of a non-number')
  t.equal(fields.get('total_error_replies'), '4')
  const stats = commandstats(replies[6])
  t.same([stats.get('get')?.rejected, stats.get('set')?.rejected], [1, 1], 'refused before AUTH')
  t.same([stats.get('auth')?.calls, stats.get('auth')?.failed], [2, 1])
  t.same([stats.get('incrbyfloat')?.calls, stats.get('incrbyfloat')?.failed], [1, 1])
})

t.test('a protocol error counts in errorstats', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send('*2\r\n$3\r\nGET\r\n$x\r\n')
  await raw.waitClosed()
  const call = caller(await connect(t, node))
  t.equal(await call('INFO', 'errorstats'), '# Errorstats\r\nerrorstat_ERR:count=1\r\n')
})

/** Each command, and the keyspace hits and misses it adds, as redis-server 7.0.15 counted them (k and n exist). */
const READS: Array<[string, number, number]> = [
  ['GET k', 1, 0], ['GET nx', 0, 1], ['MGET k nx nx', 1, 2], ['EXISTS k nx', 1, 1],
  ['STRLEN k', 1, 0], ['GETRANGE k 0 1', 1, 0], ['SUBSTR k 0 1', 1, 0],
  ['TTL k', 1, 0], ['PTTL nx', 0, 1], ['EXPIRETIME k', 1, 0], ['PEXPIRETIME k', 1, 0],
  ['TYPE k', 1, 0], ['TYPE nx', 0, 1], ['TOUCH k nx', 1, 1],
  ['OBJECT ENCODING k', 1, 0], ['OBJECT ENCODING nx', 0, 1],
  ['GETEX k', 1, 0], ['GETEX nx', 0, 1], ['GETSET k v', 1, 0], ['GETSET nx2 v', 0, 1], ['GETDEL nx', 0, 1],
  ['SET k v GET', 1, 0], ['SET k v', 0, 0], ['SET k v NX', 0, 0], ['SET k v XX', 0, 0], ['SET k v KEEPTTL', 0, 0],
  ['SETNX k v', 0, 0], ['MSETNX k v', 0, 0], ['APPEND k x', 0, 0], ['SETRANGE k 0 v', 0, 0],
  ['INCR n', 0, 0], ['INCRBYFLOAT n 1', 0, 0], ['EXPIRE k 100', 0, 0], ['EXPIRE nx 100', 0, 0], ['PERSIST k', 0, 0],
  ['RENAME k k2', 0, 0], ['RENAME k2 k', 0, 0], ['RENAMENX k n', 0, 0],
  ['COPY k c2', 1, 0], ['COPY nx c3', 0, 1], ['DEL c2', 0, 0], ['UNLINK nx', 0, 0],
  ['KEYS *', 0, 0], ['SCAN 0', 0, 0], ['RANDOMKEY', 0, 0], ['DBSIZE', 0, 0], ['WATCH k', 0, 0], ['GETDEL k', 1, 0]
]

t.test('keyspace_hits and keyspace_misses: the commands Redis counts, as it counts them', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('SET', 'k', 'v')
  await call('SET', 'n', '5')
  const counts = async (): Promise<[number, number]> => {
    const fields = fieldsOf(await call('INFO', 'stats'))
    return [Number(fields.get('keyspace_hits')), Number(fields.get('keyspace_misses'))]
  }
  t.same(await counts(), [0, 0], 'writes count nothing')
  for (const [command, hits, misses] of READS) {
    const [h0, m0] = await counts()
    await call(...command.split(' '))
    const [h1, m1] = await counts()
    t.same([h1 - h0, m1 - m0], [hits, misses], command)
  }
})

t.test('MULTI/EXEC: each queued command counts once, when EXEC runs it', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send('MULTI\r\nGET a\r\nGET a\r\nEXEC\r\nINFO everything\r\n')
  const replies = await raw.replies(5)
  const fields = fieldsOf(replies[4])
  t.equal(fields.get('keyspace_misses'), '2')
  t.equal(fields.get('cmdstat_get')?.replace(/usec=\d+,usec_per_call=[\d.]+/, 'usec'), 'calls=2,usec,rejected_calls=0,failed_calls=0')
  t.equal(fields.get('total_commands_processed'), '4', 'MULTI, EXEC and the two GETs')
})

t.test('CONFIG RESETSTAT: stats, commandstats and errorstats start again from 0, as Redis 7.0', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('SET', 'k', 'v')
  await call('GET', 'k')
  await call('GET', 'missing')
  t.match(String(await call('INCR', 'k')), /not an integer/)
  t.equal(await call('CONFIG', 'RESETSTAT'), 'OK')
  const stats = fieldsOf(await call('INFO', 'stats'))
  t.equal(stats.get('keyspace_hits'), '0')
  t.equal(stats.get('keyspace_misses'), '0')
  t.equal(stats.get('total_error_replies'), '0')
  t.equal(stats.get('total_commands_processed'), '1', 'CONFIG RESETSTAT itself: a command counts once it has run, so this INFO not yet')
  const cmds = commandstats(await call('INFO', 'commandstats'))
  t.same([...cmds.keys()].sort(), ['config|resetstat', 'info'], 'only what ran since')
  t.equal(cmds.get('config|resetstat')?.calls, 1)
  t.equal(String(await call('INFO', 'errorstats')).includes('errorstat_'), false, 'no error counted')
  t.equal(await call('GET', 'k'), 'v', 'the data is untouched')
  t.match(String(await call('CONFIG', 'RESETSTAT', 'x')), /wrong number of arguments for 'config\|resetstat' command/)
})
