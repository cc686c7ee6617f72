import t from 'tap'
import {
  EMPTY_ARRAY,
  NIL,
  OK,
  ONE,
  PONG,
  ZERO,
  array,
  bulk,
  bulkArray,
  bulkText,
  command,
  concat,
  error,
  integer,
  simple,
  type Encoded
} from '../../lib/protocol/reply.js'
import { RequestParser } from '../../lib/protocol/request-parser.js'
import { allBytes, b, bytes } from '../helpers/fixtures.js'


t.test('constants', async t => {
  t.equal(OK, '+OK\r\n')
  t.equal(PONG, '+PONG\r\n')
  t.equal(NIL, '$-1\r\n')
  t.equal(EMPTY_ARRAY, '*0\r\n')
  t.equal(ZERO, ':0\r\n')
  t.equal(ONE, ':1\r\n')
})

t.test('simple and error strings', async t => {
  t.equal(simple('OK'), '+OK\r\n')
  t.equal(simple(''), '+\r\n')
  t.equal(simple('a\r\nb'), '+a b\r\n', 'CRLF becomes a space')
  t.equal(simple('a\nb\rc'), '+a b c\r\n', 'lone LF and CR too')
  t.equal(error('ERR unknown command'), '-ERR unknown command\r\n')
  t.equal(error('ERR bad\r\nthing\n'), '-ERR bad thing \r\n')
  t.equal(error('x\ry\nz'), '-x y z\r\n', 'lone CR and LF in an error')
})

t.test('integers', async t => {
  t.equal(integer(0), ':0\r\n')
  t.equal(integer(1), ':1\r\n')
  t.equal(integer(-1), ':-1\r\n')
  t.equal(integer(42), ':42\r\n')
  t.equal(integer(-2), ':-2\r\n')
  t.equal(integer(1700000000123), ':1700000000123\r\n')
})

t.test('bulk strings', async t => {
  t.equal(bulk(null), '$-1\r\n')
  t.equal(bulk(undefined), '$-1\r\n')
  t.same(bytes(bulk('')), b('$0\r\n\r\n'))
  t.same(bytes(bulk(Buffer.alloc(0))), b('$0\r\n\r\n'))
  t.same(bytes(bulk('hello')), b('$5\r\nhello\r\n'))
  t.same(bytes(bulk('\xff\x00')), b('$2\r\n\xff\x00\r\n'), 'a string is latin1 bytes')
  t.same(bytes(bulk(Buffer.from('héllo'))), b('$6\r\nh\xc3\xa9llo\r\n'), 'a Buffer is its bytes')
  for (const n of [1, 255, 256, 511, 512, 513, 4096, 100_000]) {
    const value = allBytes(n)
    const want = Buffer.concat([b(`$${n}\r\n`), value, b('\r\n')])
    t.ok(bytes(bulk(value)).equals(want), `a ${n}-byte Buffer with every byte value`)
  }
  const crlf = b('\r\n'.repeat(300))
  t.ok(bytes(bulk(crlf)).equals(Buffer.concat([b('$600\r\n'), crlf, b('\r\n')])), 'CRLF inside a bulk is kept')
})

t.test('bulkText encodes UTF-8', async t => {
  t.same(bytes(bulkText('é')), b('$2\r\n\xc3\xa9\r\n'))
  t.same(bytes(bulkText('# Server\r\nos:x\r\n')), b('$16\r\n# Server\r\nos:x\r\n\r\n'))
})

t.test('arrays', async t => {
  t.equal(array([]), '*0\r\n')
  t.same(bytes(array([OK, integer(5), NIL])), b('*3\r\n+OK\r\n:5\r\n$-1\r\n'))
  const big = allBytes(600)
  const mixed = array([bulk('a'), bulk(big), bulk(allBytes(3)), NIL])
  const want = Buffer.concat([b('*4\r\n$1\r\na\r\n$600\r\n'), big, b('\r\n$3\r\n'), allBytes(3), b('\r\n$-1\r\n')])
  t.ok(bytes(mixed).equals(want), 'strings and Buffers mixed')
  t.same(bytes(array([array([ONE]), EMPTY_ARRAY])), b('*2\r\n*1\r\n:1\r\n*0\r\n'), 'nested')
  t.same(bytes(bulkArray(['a', null, Buffer.from('bc')])), b('*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n'))
  t.same(bytes(bulkArray([])), b('*0\r\n'))
})

t.test('concat joins replies byte for byte', async t => {
  t.equal(concat([]), '')
  t.equal(concat([OK, ONE]), '+OK\r\n:1\r\n')
  const big = bulk(allBytes(1000))
  const joined = bytes(concat([OK, big, '\xff', Buffer.from([0, 1])]))
  t.ok(joined.equals(Buffer.concat([b('+OK\r\n'), bytes(big), b('\xff'), Buffer.from([0, 1])])))
})

t.test('command encodes a request the RequestParser reads back', async t => {
  const value = allBytes(700)
  const enc = bytes(command(['SET', Buffer.from('k\r\n'), value]))
  t.ok(enc.equals(Buffer.concat([b('*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$700\r\n'), value, b('\r\n')])))
  const p = new RequestParser()
  p.feed(enc)
  const r = p.next()
  if (!Array.isArray(r)) throw new Error('expected a command')
  t.equal(r.length, 3)
  t.ok(value.equals(r[2] as Buffer))
})
