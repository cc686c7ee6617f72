import t from 'tap'
import { exactSession } from '../helpers/exact.js'
import { startNode } from '../helpers/server.js'

// TYPE, TOUCH, UNLINK, RANDOMKEY, FLUSHDB, RENAME, RENAMENX, COPY, OBJECT,
// SCAN ... TYPE: exact reply bytes, as redis-server 7.0.15 sends them.

const arity = (name: string): string => `-ERR wrong number of arguments for '${name}' command\r\n`

t.test('TYPE, TOUCH, UNLINK', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'a', '1'], '+OK\r\n')
  await x(['TYPE', 'a'], '+string\r\n')
  await x(['TYPE', 'nokey'], '+none\r\n')
  await x(['SET', 'b', '2'], '+OK\r\n')
  await x(['TOUCH', 'a', 'b', 'c', 'a'], ':3\r\n', 'a key named twice counts twice')
  await x(['UNLINK', 'a', 'c', 'a'], ':1\r\n')
  await x(['EXISTS', 'a'], ':0\r\n')
  await x(['TYPE'], arity('type'))
  await x(['TOUCH'], arity('touch'))
  await x(['UNLINK'], arity('unlink'))
})

t.test('RANDOMKEY and FLUSHDB', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['RANDOMKEY'], '$-1\r\n', 'an empty store: nil')
  await x(['SET', 'only', 'v'], '+OK\r\n')
  for (let i = 0; i < 5; i++) await x(['RANDOMKEY'], '$4\r\nonly\r\n')
  await x(['SET', 'gone', 'v', 'PXAT', '1'], '+OK\r\n')
  await x(['DEL', 'only'], ':1\r\n')
  await x(['RANDOMKEY'], '$-1\r\n', 'expired keys are not returned')
  await x(['MSET', 'a', '1', 'b', '2', 'c', '3'], '+OK\r\n')
  await x(['FLUSHDB'], '+OK\r\n')
  await x(['DBSIZE'], ':0\r\n')
  await x(['FLUSHDB', 'ASYNC'], '+OK\r\n')
  await x(['FLUSHDB', 'sync'], '+OK\r\n')
  await x(['FLUSHDB', 'FOO'], '-ERR syntax error\r\n')
  await x(['FLUSHDB', 'SYNC', 'ASYNC'], '-ERR syntax error\r\n')
  await x(['RANDOMKEY', 'x'], arity('randomkey'))
})

t.test('RANDOMKEY returns every key sooner or later', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['MSET', 'a', '1', 'b', '2', 'c', '3'], '+OK\r\n')
  const seen = new Set<string>()
  const { RespClient } = await import('../../lib/client/resp-client.js')
  const client = await RespClient.connect(node.address())
  t.teardown(() => client.close())
  for (let i = 0; i < 200 && seen.size < 3; i++) seen.add(String(await client.call(['RANDOMKEY'])))
  t.same([...seen].sort(), ['a', 'b', 'c'])
})

t.test('RENAME and RENAMENX', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'a', '1'], '+OK\r\n')
  await x(['RENAME', 'a', 'c'], '+OK\r\n')
  await x(['GET', 'c'], '$1\r\n1\r\n')
  await x(['EXISTS', 'a'], ':0\r\n')
  await x(['RENAME', 'nokey', 'x'], '-ERR no such key\r\n', 'RENAME of a missing key')
  await x(['RENAME', 'nokey', 'nokey'], '-ERR no such key\r\n')
  await x(['RENAME', 'c', 'c'], '+OK\r\n', 'onto itself')
  await x(['GET', 'c'], '$1\r\n1\r\n')
  await x(['SET', 'e', 'v', 'EX', '100'], '+OK\r\n')
  await x(['RENAME', 'e', 'f'], '+OK\r\n')
  await x(['TTL', 'f'], ':100\r\n', 'the expiry moves with the value')
  await x(['SET', 'g', 'old', 'EX', '500'], '+OK\r\n')
  await x(['RENAME', 'c', 'g'], '+OK\r\n', 'over an existing key')
  await x(['GET', 'g'], '$1\r\n1\r\n')
  await x(['TTL', 'g'], ':-1\r\n', "the destination's expiry goes with its value")
  await x(['SET', 'b', '2'], '+OK\r\n')
  await x(['RENAMENX', 'g', 'g'], ':0\r\n')
  await x(['RENAMENX', 'nokey', 'x'], '-ERR no such key\r\n')
  await x(['RENAMENX', 'g', 'b'], ':0\r\n', 'the destination exists')
  await x(['MGET', 'g', 'b'], '*2\r\n$1\r\n1\r\n$1\r\n2\r\n')
  await x(['RENAMENX', 'g', 'd'], ':1\r\n')
  await x(['MGET', 'g', 'd'], '*2\r\n$-1\r\n$1\r\n1\r\n')
  await x(['RENAME', 'a'], arity('rename'))
  await x(['RENAMENX', 'a', 'b', 'c'], arity('renamenx'))
})

t.test('COPY', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'g', 'v', 'EX', '100'], '+OK\r\n')
  await x(['COPY', 'g', 'h'], ':1\r\n')
  await x(['GET', 'h'], '$1\r\nv\r\n')
  await x(['TTL', 'h'], ':100\r\n', 'with its expiry')
  await x(['SET', 'g', 'w'], '+OK\r\n')
  await x(['COPY', 'g', 'h'], ':0\r\n', 'onto an existing key without REPLACE')
  await x(['GET', 'h'], '$1\r\nv\r\n')
  await x(['COPY', 'g', 'h', 'REPLACE'], ':1\r\n')
  await x(['GET', 'h'], '$1\r\nw\r\n')
  await x(['TTL', 'h'], ':-1\r\n')
  await x(['COPY', 'g', 'i', 'DB', '0', 'replace', 'REPLACE'], ':1\r\n')
  await x(['COPY', 'nokey', 'z'], ':0\r\n')
  await x(['EXISTS', 'z'], ':0\r\n')
  await x(['COPY', 'g', 'g'], '-ERR source and destination objects are the same\r\n')
  await x(['COPY', 'nokey', 'nokey'], '-ERR source and destination objects are the same\r\n')
  await x(['COPY', 'g', 'j', 'DB', '1'], '-ERR DB index is out of range\r\n', 'one database')
  await x(['COPY', 'g', 'j', 'DB', 'a'], '-ERR value is not an integer or out of range\r\n')
  await x(['COPY', 'g', 'j', 'DB'], '-ERR syntax error\r\n')
  await x(['COPY', 'g', 'j', 'FOO'], '-ERR syntax error\r\n')
  await x(['EXISTS', 'j'], ':0\r\n')
  await x(['COPY', 'g'], arity('copy'))
})

t.test('OBJECT', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  const encodings: Array<[string, string]> = [
    ['123', 'int'], ['0', 'int'], ['-9223372036854775808', 'int'], ['9223372036854775807', 'int'],
    ['9223372036854775808', 'embstr'], ['12345678901234567890', 'embstr'], ['012', 'embstr'], ['-0', 'embstr'],
    ['+1', 'embstr'], [' 1', 'embstr'], ['', 'embstr'], ['x'.repeat(44), 'embstr'], ['x'.repeat(45), 'raw']
  ]
  for (const [value, encoding] of encodings) {
    await x(['SET', 'a', value], '+OK\r\n')
    await x(['OBJECT', 'ENCODING', 'a'], `$${encoding.length}\r\n${encoding}\r\n`, `'${value.slice(0, 25)}' is ${encoding}`)
  }
  await x(['OBJECT', 'encoding', 'nokey'], '$-1\r\n')
  await x(['SET', 'n', '9999'], '+OK\r\n')
  await x(['OBJECT', 'REFCOUNT', 'n'], ':2147483647\r\n', "0..9999 are Redis's shared integers")
  await x(['SET', 'n', '10000'], '+OK\r\n')
  await x(['OBJECT', 'REFCOUNT', 'n'], ':1\r\n')
  await x(['OBJECT', 'REFCOUNT', 'nokey'], '$-1\r\n')
  await x(['OBJECT', 'FREQ', 'n'], '-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n')
  await x(['OBJECT', 'IDLETIME', 'n'], '-ERR OBJECT IDLETIME is not supported: Keystone does not track when keys were last accessed\r\n')
  await x(['OBJECT', 'IDLETIME', 'nokey'], '$-1\r\n')
  await x(['OBJECT', 'FOO', 'n'], "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n")
  // As Redis's '%.128s' of a C string: cut at the first NUL, and at 128 bytes (found by the differential test).
  await x(['OBJECT', Buffer.from('k\x00\xff\r\n', 'latin1')], "-ERR unknown subcommand 'k'. Try OBJECT HELP.\r\n")
  await x(['OBJECT', 'y'.repeat(200)], `-ERR unknown subcommand '${'y'.repeat(128)}'. Try OBJECT HELP.\r\n`)
  await x(['OBJECT', 'ENCODING'], arity('object|encoding'))
  await x(['OBJECT', 'ENCODING', 'a', 'b'], arity('object|encoding'))
  await x(['OBJECT', 'HELP', 'x'], arity('object|help'))
  await x(['OBJECT'], arity('object'))
  const help = await exactSession(t, node)
  await help(['OBJECT', 'HELP'], '*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n' +
    '+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n' +
    '+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n' +
    '+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n' +
    '+    Return the idle time of the <key>, that is the approximated number of\r\n' +
    '+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n' +
    '+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n')
})

t.test('SCAN TYPE', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'a', '1'], '+OK\r\n')
  await x(['SCAN', '0', 'TYPE', 'string'], '*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n')
  await x(['SCAN', '0', 'TYPE', 'STRING'], '*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n')
  await x(['SCAN', '0', 'TYPE', 'hash'], '*2\r\n$1\r\n0\r\n*0\r\n')
  await x(['SCAN', '0', 'TYPE', 'foo'], '*2\r\n$1\r\n0\r\n*0\r\n', 'an unknown type: no keys, no error')
  await x(['SCAN', '0', 'TYPE'], '-ERR syntax error\r\n')
})
