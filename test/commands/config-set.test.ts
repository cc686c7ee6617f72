import t from 'tap'
import { RespClient } from '../../lib/client/resp-client.js'
import { exactSession } from '../helpers/exact.js'
import { configSetFailed, startNode } from '../helpers/server.js'

// CONFIG SET: exact reply bytes, as redis-server 7.0.15 sends them, and its effect.

const failed = (name: string, why: string): string => `-${configSetFailed(name, why)}\r\n`

t.test('CONFIG SET changes maxclients, timeout, tcp-keepalive', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['CONFIG', 'SET', 'maxclients', '500'], '+OK\r\n')
  await x(['CONFIG', 'GET', 'maxclients'], '*2\r\n$10\r\nmaxclients\r\n$3\r\n500\r\n')
  await x(['CONFIG', 'SET', 'MAXCLIENTS', '600', 'timeout', '5', 'tcp-keepalive', '30'], '+OK\r\n', 'several at once, any case')
  await x(['CONFIG', 'GET', 'maxclients', 'timeout', 'tcp-keepalive'], '*6\r\n$10\r\nmaxclients\r\n$3\r\n600\r\n$7\r\ntimeout\r\n$1\r\n5\r\n$13\r\ntcp-keepalive\r\n$2\r\n30\r\n')
  await x(['CONFIG', 'SET', 'timeout', '0'], '+OK\r\n')
  await x(['INFO', 'clients'], '$48\r\n# Clients\r\nconnected_clients:1\r\nmaxclients:600\r\n\r\n')
})

t.test('a lowered maxclients refuses the next connection', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['CONFIG', 'SET', 'maxclients', '1'], '+OK\r\n')
  const refused = await RespClient.connect(node.address())
  t.teardown(() => refused.close())
  t.match(await refused.call(['PING']).catch((err: Error) => err), { message: /max number of clients reached/ })
  await x(['CONFIG', 'SET', 'maxclients', '10'], '+OK\r\n')
  const admitted = await RespClient.connect(node.address())
  t.teardown(() => admitted.close())
  t.equal(await admitted.call(['PING']), 'PONG')
})

t.test('CONFIG SET errors', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['CONFIG', 'SET', 'maxclients', 'abc'], failed('maxclients', "argument couldn't be parsed into an integer"))
  await x(['CONFIG', 'SET', 'maxclients', '010'], failed('maxclients', "argument couldn't be parsed into an integer"))
  await x(['CONFIG', 'SET', 'timeout', '1.5'], failed('timeout', "argument couldn't be parsed into an integer"))
  await x(['CONFIG', 'SET', 'maxclients', '0'], failed('maxclients', 'argument must be between 1 and 4294967295 inclusive'))
  await x(['CONFIG', 'SET', 'maxclients', '4294967296'], failed('maxclients', 'argument must be between 1 and 4294967295 inclusive'))
  await x(['CONFIG', 'SET', 'timeout', '-1'], failed('timeout', 'argument must be between 0 and 2147483647 inclusive'))
  await x(['CONFIG', 'SET', 'tcp-keepalive', '-1'], failed('tcp-keepalive', 'argument must be between 0 and 2147483647 inclusive'))
  await x(['CONFIG', 'SET', 'port', '1234'], failed('port', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'databases', '3'], failed('databases', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'max-bulk-len', '10'], failed('max-bulk-len', "can't set immutable config"))
  await x(['CONFIG', 'SET', 'maxclients', '700', 'maxclients', '800'], failed('maxclients', 'duplicate parameter'))
  await x(['CONFIG', 'SET', 'nosuch', '1'], "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n")
  await x(['CONFIG', 'SET', 'databases', '3', 'nosuch', '1'], failed('databases', "can't set immutable config"), 'the first bad name')
  await x(['CONFIG', 'SET', 'nosuch', '1', 'databases', '3'], "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n")
  await x(['CONFIG', 'SET', 'maxclients', '700', 'timeout', '-1'], failed('timeout', 'argument must be between 0 and 2147483647 inclusive'))
  await x(['CONFIG', 'GET', 'maxclients'], '*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n', 'all or nothing: no refused SET changed anything')
  await x(['CONFIG', 'SET', 'maxclients', '10', 'timeout'], '-ERR syntax error\r\n')
  await x(['CONFIG', 'SET', 'maxclients'], "-ERR wrong number of arguments for 'config|set' command\r\n")
  await x(['CONFIG', 'SET'], "-ERR wrong number of arguments for 'config|set' command\r\n")
})
