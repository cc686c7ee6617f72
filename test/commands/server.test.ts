import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode, waitFor } from '../helpers/server.js'

// INFO, CONFIG GET, COMMAND through a real socket.

const err = (message: string): RespError => new RespError(message)

/** INFO's `field:value` lines as a map; section titles as `# Title` keys. */
function parseInfo (text: unknown): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of String(text).split('\r\n')) {
    if (line.startsWith('# ')) fields.set(line, '')
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

t.test('INFO: every section but commandstats by default, in Redis format', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  await call('MSET', 'a', '1', 'b', '2')
  await call('EXPIRE', 'a', '100')
  const text = String(await call('INFO'))
  t.match(text, /^# Server\r\n/)
  t.notMatch(text.replace(/\r\n/g, ''), /\n/, 'lines end in CRLF')
  const info = parseInfo(text)
  for (const section of ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Keyspace']) {
    t.ok(info.has(section), section)
  }
  t.match(info.get('uptime_in_seconds'), /^\d+$/)
  t.equal(info.get('tcp_port'), String(node.address().port))
  t.match(info.get('redis_version'), /^\d+\.\d+\.\d+$/)
  t.equal(info.get('connected_clients'), '1')
  t.match(info.get('used_memory'), /^[1-9]\d*$/)
  t.match(info.get('total_commands_processed'), /^\d+$/)
  t.match(info.get('instantaneous_ops_per_sec'), /^\d+$/)
  t.equal(info.get('loading'), '0')
  t.match(info.get('db0'), /^keys=2,expires=1(,|$)/)
  const sectionsOf = async (...words: string[]): Promise<string[]> => String(await call('INFO', ...words)).split('\r\n').filter(l => l.startsWith('# '))
  const all = ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Commandstats', '# Errorstats', '# Keyspace', '# Replication']
  for (const word of ['all', 'everything']) t.same(await sectionsOf(word), all, `INFO ${word}`)
  const withoutCommandstats = all.filter(s => s !== '# Commandstats')
  t.same(await sectionsOf('default'), withoutCommandstats, 'INFO default: all but commandstats, as Redis 7')
  t.same(String(await call('INFO')).split('\r\n').filter(l => l.startsWith('# ')), withoutCommandstats, 'INFO alone: the same')
  t.same(await sectionsOf('default', 'commandstats'), all, 'INFO default commandstats: in the usual order')
})

t.test('INFO section', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const server = String(await call('INFO', 'server'))
  t.match(server, /^# Server\r\n/)
  t.notMatch(server, /# Clients/, 'only the section asked for')
  t.match(String(await call('info', 'CLIENTS')), /^# Clients\r\nconnected_clients:1\r\n/, 'section names are case-insensitive')
  t.match(String(await call('INFO', 'memory')), /^# Memory\r\nused_memory:\d+\r\n/)
  t.match(String(await call('INFO', 'stats')), /^# Stats\r\n[^#]*total_commands_processed:\d+\r\n[^#]*instantaneous_ops_per_sec:\d+\r\n/)
  t.equal(await call('INFO', 'keyspace'), '# Keyspace\r\n', 'an empty store has no db0 line')
  await call('SET', 'k', 'v')
  t.match(String(await call('INFO', 'keyspace')), /^# Keyspace\r\ndb0:keys=1,expires=0(,[^\r\n]*)?\r\n$/)
  const two = String(await call('INFO', 'server', 'keyspace'))
  t.match(two, /# Server/)
  t.match(two, /# Keyspace/)
  t.notMatch(two, /# Stats/)
  t.equal(await call('INFO', 'nosuchsection'), '', 'an unknown section is empty')
})

t.test('INFO counters move', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const processed = (): Promise<number> => call('INFO', 'stats').then(s => Number(parseInfo(s).get('total_commands_processed')))
  const before = await processed()
  for (let i = 0; i < 10; i++) await call('PING')
  t.equal(await processed(), before + 11, 'each command counts')

  const others = [await connect(t, node), await connect(t, node)]
  t.equal(parseInfo(await call('INFO', 'clients')).get('connected_clients'), '3')
  for (const c of others) c.close()
  await waitFor(async () => parseInfo(await call('INFO', 'clients')).get('connected_clients') === '1', 3000, 'clients to leave')

  // A burst of commands shows up in the ops/sec average.
  const burst = await connect(t, node)
  await Promise.all(Array.from({ length: 2000 }, () => burst.call(['PING'])))
  await waitFor(async () => Number(parseInfo(await call('INFO', 'stats')).get('instantaneous_ops_per_sec')) > 0, 3000, 'ops/sec to rise')
  t.pass('instantaneous_ops_per_sec rises under load')
})

t.test('CONFIG GET', async t => {
  const node = await startNode(t, { maxclients: 77 })
  const call = caller(await connect(t, node))
  t.same(await call('CONFIG', 'GET', 'maxclients'), ['maxclients', '77'])
  t.same(await call('config', 'get', 'MAXCLIENTS'), ['maxclients', '77'], 'names are case-insensitive')
  t.same(await call('CONFIG', 'GET', 'port'), ['port', String(node.address().port)])
  t.same(await call('CONFIG', 'GET', 'databases'), ['databases', '1'])
  t.same(await call('CONFIG', 'GET', 'save', 'appendonly'), ['save', '', 'appendonly', 'no'])
  const proto = await call('CONFIG', 'GET', 'proto-*') as string[]
  const pairs = new Map<string, string>()
  for (let i = 0; i < proto.length; i += 2) pairs.set(proto[i] as string, proto[i + 1] as string)
  t.same([...pairs.keys()].sort(), ['proto-inline-max-size', 'proto-max-bulk-len', 'proto-max-multibulk-len'], 'a glob')
  t.equal(pairs.get('proto-inline-max-size'), '65536')
  t.ok((await call('CONFIG', 'GET', '*') as string[]).length >= 20, "'*' gives everything")
  t.same(await call('CONFIG', 'GET', 'no-such-option'), [], 'unknown: an empty array')
  t.same(await call('CONFIG', 'REWRITE'), err('ERR The server is running without a config file'))
  t.same(await call('CONFIG', 'RE\x00WRITE'), err("ERR unknown subcommand 'RE'. Try CONFIG HELP."), 'cut at a NUL, as Redis')
  t.same(await call('CONFIG', 'GET'), err("ERR wrong number of arguments for 'config|get' command"))
  t.same(await call('CONFIG'), err("ERR wrong number of arguments for 'config' command"))
  t.ok(Array.isArray(await call('CONFIG', 'HELP')))
})

t.test('COMMAND', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const all = await call('COMMAND') as unknown[][]
  const count = await call('COMMAND', 'COUNT')
  t.equal(count, all.length, 'COUNT is the number of commands')
  const names = all.map(c => c[0]).sort()
  for (const name of ['get', 'set', 'del', 'scan', 'info', 'auth', 'command', 'config', 'client', 'hello']) {
    t.ok(names.includes(name), `lists ${name}`)
  }
  t.same((await call('COMMAND', 'LIST') as string[]).sort(), names)
  t.same(await call('COMMAND', 'INFO', 'get', 'SET', 'nosuch'), [
    ['get', 2, ['readonly'], 1, 1, 1],
    ['set', -3, ['write'], 1, 1, 1],
    null
  ])
  t.same(await call('COMMAND', 'INFO', 'mset'), [['mset', -3, ['write'], 1, -1, 2]])
  t.same(await call('COMMAND', 'INFO', 'auth'), [['auth', -2, ['readonly', 'no-auth'], 0, 0, 0]])
  t.ok(Array.isArray(await call('COMMAND', 'DOCS')), 'DOCS answers an array')
  t.same(await call('COMMAND', 'BOGUS'), err("ERR unknown subcommand 'BOGUS'. Try COMMAND HELP."))
  t.same(await call('COMMAND', 'B'.repeat(200)), err(`ERR unknown subcommand '${'B'.repeat(128)}'. Try COMMAND HELP.`), 'its first 128 bytes, as Redis')
})
