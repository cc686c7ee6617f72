import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, rawConnect, startNode } from '../helpers/server.js'

// PING, ECHO, QUIT, AUTH, HELLO, SELECT, CLIENT through a real socket.

const err = (message: string): RespError => new RespError(message)

t.test('PING and ECHO', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('PING'), 'PONG')
  t.equal(await call('ping', 'hello world'), 'hello world', 'PING message is a bulk reply')
  t.same(await call('PING', 'a', 'b'), err("ERR wrong number of arguments for 'ping' command"))
  t.equal(await call('ECHO', 'x\r\ny'), 'x\r\ny')
  t.equal(await call('ECHO', ''), '')
  t.same(await call('ECHO'), err("ERR wrong number of arguments for 'echo' command"))
  t.same(await call('ECHO', 'a', 'b'), err("ERR wrong number of arguments for 'echo' command"))
})

t.test('QUIT replies OK and closes', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send('*1\r\n$4\r\nQUIT\r\n')
  await raw.waitClosed()
  t.equal(raw.text, '+OK\r\n')
})

t.test('HELLO', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const reply = await call('HELLO')
  t.ok(Array.isArray(reply))
  const fields = new Map<unknown, unknown>()
  const list = reply as unknown[]
  for (let i = 0; i < list.length; i += 2) fields.set(list[i], list[i + 1])
  t.equal(fields.get('server'), 'keystone')
  t.equal(fields.get('proto'), 2)
  t.equal(fields.get('mode'), 'standalone')
  t.equal(fields.get('role'), 'master')
  t.same(fields.get('modules'), [])
  t.type(fields.get('id'), 'number')
  t.same(await call('HELLO', '2'), reply, 'HELLO 2 is the same')
  t.same(await call('HELLO', '3'), err('NOPROTO unsupported protocol version'))
  t.same(await call('HELLO', 'two'), err('ERR Protocol version is not an integer or out of range'))
  t.same(await call('HELLO', '2', 'BOGUS'), err('ERR syntax error'))
  t.same(await call('HELLO', '2', 'SETNAME'), err('ERR syntax error'), 'SETNAME without a name')
  t.ok(Array.isArray(await call('HELLO', '2', 'SETNAME', 'worker-1')))
  t.equal(await call('CLIENT', 'GETNAME'), 'worker-1')
})

t.test('SELECT: only database 0', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SELECT', '0'), 'OK')
  t.same(await call('SELECT', '1'), err('ERR DB index is out of range'))
  t.same(await call('SELECT', '-1'), err('ERR DB index is out of range'))
  t.same(await call('SELECT', 'zero'), err('ERR invalid DB index'))
  t.same(await call('SELECT'), err("ERR wrong number of arguments for 'select' command"))
})

t.test('AUTH', async t => {
  const open = await startNode(t)
  const call = caller(await connect(t, open))
  t.same(await call('AUTH', 'pw'), err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'))
  t.same(await call('AUTH'), err("ERR wrong number of arguments for 'auth' command"))

  const locked = await startNode(t, { requirepass: 'p4ss word' })
  const c = caller(await connect(t, locked))
  t.same(await c('SET', 'k', 'v'), err('NOAUTH Authentication required.'))
  t.same(await c('AUTH', 'p4ss'), err('WRONGPASS invalid username-password pair or user is disabled.'))
  t.equal(await c('AUTH', 'p4ss word'), 'OK')
  t.equal(await c('SET', 'k', 'v'), 'OK')
  t.equal(await c('AUTH', 'default', 'p4ss word'), 'OK', 'AUTH again is fine')
})

t.test('CLIENT', async t => {
  const node = await startNode(t)
  const a = caller(await connect(t, node))
  const b = caller(await connect(t, node))
  const idA = await a('CLIENT', 'ID')
  const idB = await b('CLIENT', 'ID')
  t.type(idA, 'number')
  t.not(idA, idB, 'each connection has its own id')
  t.equal(await a('CLIENT', 'GETNAME'), null, 'no name yet')
  t.equal(await a('CLIENT', 'SETNAME', 'alpha'), 'OK')
  t.equal(await a('client', 'getname'), 'alpha')
  t.equal(await b('CLIENT', 'GETNAME'), null, 'names are per connection')
  t.same(await a('CLIENT', 'SETNAME', 'has space'), err('ERR Client names cannot contain spaces, newlines or special characters.'))
  t.same(await a('CLIENT', 'SETNAME'), err("ERR wrong number of arguments for 'client|setname' command"))
  t.equal(await a('CLIENT', 'SETINFO', 'LIB-NAME', 'tests'), 'OK')
  t.same(await a('CLIENT', 'SETINFO', 'LIB-NAME'), err("ERR wrong number of arguments for 'client|setinfo' command"))
  t.same(await a('CLIENT', 'BOGUS'), err("ERR unknown subcommand 'BOGUS'. Try CLIENT HELP."))
  t.same(await a('CLIENT'), err("ERR wrong number of arguments for 'client' command"))
  t.ok(Array.isArray(await a('CLIENT', 'HELP')))

  const list = String(await a('CLIENT', 'LIST'))
  const lines = list.trimEnd().split('\n')
  t.equal(lines.length, 2, 'CLIENT LIST: one line per client')
  t.match(list, new RegExp(`id=${String(idA)} addr=127\\.0\\.0\\.1:\\d+ name=alpha .*cmd=client`))
  t.match(list, new RegExp(`id=${String(idB)} `))
  t.match(String(await b('CLIENT', 'INFO')), new RegExp(`^id=${String(idB)} addr=127\\.0\\.0\\.1:\\d+ name= age=\\d+ idle=\\d+ db=0 cmd=client`))
})

t.test('command names are case-insensitive; argument case is kept', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('sEt', 'Key', 'Value'), 'OK')
  t.equal(await call('GeT', 'Key'), 'Value')
  t.equal(await call('get', 'key'), null)
})
