import t from 'tap'
import fc from 'fast-check'
import { EMPTY_ARRAY, NIL, OK, ONE, array, bulk, bulkArray, concat, error, integer, simple, type Encoded } from '../../lib/protocol/reply.js'
import { ReplyParser, RespError, type RespValue } from '../../lib/protocol/reply-parser.js'
import { allBytes, b, byteByByte, bytes, cutAt, threeWaySplits, twoWaySplits } from '../helpers/fixtures.js'


/** A comparable form: Buffers as hex, errors tagged. */
type Plain = string | number | bigint | null | { bulk: string } | { err: string } | Plain[]

function plain (v: RespValue): Plain {
  if (v instanceof RespError) return { err: v.message }
  if (Buffer.isBuffer(v)) return { bulk: v.toString('hex') }
  if (Array.isArray(v)) return v.map(plain)
  return v
}

/** Feeds chunks one at a time, pulling every complete reply after each, as RespClient does. */
function readAll (chunks: readonly Buffer[]): Plain[] {
  const p = new ReplyParser()
  const out: Plain[] = []
  for (const chunk of chunks) {
    p.feed(chunk)
    for (let v = p.next(); v !== undefined; v = p.next()) out.push(plain(v))
  }
  return out
}

/** Chunks of 1, 2, ... `max` bytes in turn. */
function smallChunks (buf: Buffer, max: number): Buffer[] {
  const cuts: number[] = []
  for (let at = 0, size = 1; at < buf.length; at += size, size = size % max + 1) cuts.push(at)
  return cutAt(buf, cuts)
}

const big = allBytes(1000)
const deep = '*1\r\n'.repeat(500) + ':7\r\n'
let deepWant: Plain = 7
for (let i = 0; i < 500; i++) deepWant = [deepWant]
const replies: Array<[Encoded, Plain]> = [
  [OK, 'OK'],
  [simple('a\r\nb'), 'a b'],
  ['+caf\xe9\r\n', 'caf\xe9'], // a simple string is latin1: one char per byte
  [error('ERR boom'), { err: 'ERR boom' }],
  [error('WRONGTYPE x'), { err: 'WRONGTYPE x' }],
  ['-ERR caf\xc3\xa9\r\n', { err: 'ERR café' }], // an error is UTF-8
  [integer(0), 0],
  [integer(-12), -12],
  [integer(1700000000123), 1700000000123],
  [NIL, null],
  ['$-2\r\n', null],
  [bulk(''), { bulk: '' }],
  [bulk(b('\r\n\x00\xff')), { bulk: '0d0a00ff' }],
  [bulk(big), { bulk: big.toString('hex') }],
  [EMPTY_ARRAY, []],
  ['*-1\r\n', null],
  [bulkArray(['a', null, b('\r\n')]), [{ bulk: '61' }, null, { bulk: '0d0a' }]],
  [array([array([ONE, bulk('x')]), EMPTY_ARRAY, error('ERR e'), bulk(allBytes(520))]),
    [[1, { bulk: '78' }], [], { err: 'ERR e' }, { bulk: allBytes(520).toString('hex') }]],
  [array([array([array([]), '*-1\r\n', array([NIL])]), array([array([integer(3)])])]), [[[], null, [null]], [[3]]]],
  [deep, deepWant]
]

t.test('ReplyParser decodes each encoder output', async t => {
  for (const [enc, want] of replies) t.same(readAll([bytes(enc)]), [want], JSON.stringify(enc.toString('latin1').slice(0, 30)))
})

t.test('ReplyParser: each reply split at every byte boundary and fed byte by byte', async t => {
  for (const [enc, want] of replies) {
    const input = bytes(enc)
    const name = JSON.stringify(input.toString('latin1').slice(0, 30))
    let bad: string | null = null
    for (const { at, chunks } of twoWaySplits(input)) {
      if (JSON.stringify(readAll(chunks)) !== JSON.stringify([want])) { bad = `split at ${at}`; break }
    }
    t.equal(bad, null, `${name}: every two-way split`)
    t.same(readAll(byteByByte(input)), [want], `${name}: byte by byte`)
  }
})

t.test('ReplyParser: the whole stream fed whole, byte by byte and in every split', async t => {
  const stream = bytes(concat(replies.map(r => r[0])))
  const want = replies.map(r => r[1])
  t.same(readAll([stream]), want, 'whole')
  t.same(readAll(byteByByte(stream)), want, 'byte by byte')
  t.same(readAll(smallChunks(stream, 7)), want, 'in chunks of 1 to 7 bytes')
  let bad: string | null = null
  for (const { at, chunks } of twoWaySplits(stream)) {
    if (JSON.stringify(readAll(chunks)) !== JSON.stringify(want)) { bad = `split at ${at}`; break }
  }
  t.equal(bad, null, 'every two-way split')
  for (const { at, chunks } of threeWaySplits(stream, 300)) {
    if (JSON.stringify(readAll(chunks)) !== JSON.stringify(want)) { bad = `split at ${at.join(',')}`; break }
  }
  t.equal(bad, null, 'three-way splits')
})

t.test('ReplyParser: a partial reply waits, and asking again changes nothing', async t => {
  const p = new ReplyParser()
  p.feed(b('*2\r\n$3\r\nab'))
  t.equal(p.next(), undefined)
  t.equal(p.next(), undefined, 'asked twice, no bytes between')
  p.feed(b(''))
  t.equal(p.next(), undefined, 'an empty chunk')
  p.feed(b('c\r\n+d'))
  t.equal(p.next(), undefined)
  p.feed(b('\r\n:1\r\n'))
  t.same(plain(p.next() as RespValue), [{ bulk: '616263' }, 'd'])
  t.equal(p.next(), 1)
  t.equal(p.next(), undefined)
})

t.test('ReplyParser: values stay intact after later feeds', async t => {
  const p = new ReplyParser()
  p.feed(b('$3\r\nabc\r\n$3\r\nde'))
  const first = p.next()
  t.same(first, b('abc'))
  t.equal(p.next(), undefined)
  p.feed(b('f\r\n'))
  t.same(p.next(), b('def'))
  t.same(first, b('abc'), 'the first value is unchanged')

  // Values taken from an array still filling, across many joins of small chunks.
  const values = Array.from({ length: 50 }, (_, i) => allBytes(i * 3 + 1))
  const q = new ReplyParser()
  const got: RespValue[] = []
  for (const chunk of smallChunks(bytes(concat(values.map(v => bulkArray([v, v])))), 5)) {
    q.feed(chunk)
    for (let v = q.next(); v !== undefined; v = q.next()) got.push(v)
  }
  q.feed(b('$5\r\nxxxxx\r\n'.repeat(20)))
  while (q.next() !== undefined);
  t.same(got.map(plain), values.map(v => [plain(v), plain(v)]), 'unchanged by the joins after them')
})

t.test('integers past 2^53 (INCRBY near 2^63) are exact bigints', async t => {
  t.same(readAll([b(':9223372036854775807\r\n:-9223372036854775808\r\n:42\r\n')]), [9223372036854775807n, -9223372036854775808n, 42])
})

t.test('ReplyParser throws on malformed replies, and again if asked again', async t => {
  const cases: Array<[string, RegExp]> = [
    ['+OK\n', /expected CRLF$/],
    ['\r\n', /unexpected type byte 0xd/],
    ['\n', /expected CRLF$/],
    ['+OK\r\n\n', /expected CRLF$/],
    ['?what\r\n', /unexpected type byte 0x3f/],
    [':abc\r\n', /bad integer/],
    [':\r\n', /bad integer/],
    ['$x\r\n', /bad integer/],
    ['*1x\r\n', /bad integer/],
    [':123456789012345678901\r\n', /bad integer/],
    ['$1234567890123456\r\n', /bad integer/],
    ['$3\r\nabcde\r\n', /expected CRLF after bulk data/],
    ['*2\r\n:1\r\n$1\r\nab\r\n', /expected CRLF after bulk data/],
    ['*3\r\n:1\r\n*1\r\n!\r\n', /unexpected type byte 0x21/]
  ]
  for (const [input, message] of cases) {
    const name = JSON.stringify(input)
    for (const chunks of [[b(input)], byteByByte(b(input))]) {
      const p = new ReplyParser()
      let thrown: unknown = null
      try {
        for (const chunk of chunks) {
          p.feed(chunk)
          while (p.next() !== undefined);
        }
      } catch (err) {
        thrown = err
      }
      t.match(thrown, { message }, `${name} in ${chunks.length} chunk(s)`)
      t.throws(() => p.next(), message, `${name}: thrown again`)
    }
  }
})

// --- work per byte ----------------------------------------------------------

/**
 * Runs `fn` counting the bytes Buffer.concat copies and the bytes
 * Buffer#indexOf looks at: the parser's only loops over received bytes.
 * Deterministic, unlike timing.
 */
function countWork (fn: () => void): { copied: number, scanned: number } {
  const concatFn = Buffer.concat
  const indexOfFn = Buffer.prototype.indexOf
  let copied = 0
  let scanned = 0
  Buffer.concat = (list, totalLength) => {
    const out = concatFn(list, totalLength)
    copied += out.length
    return out
  }
  Buffer.prototype.indexOf = function (this: Buffer, value: string | number | Uint8Array, byteOffset?: number, encoding?: BufferEncoding): number {
    const at = indexOfFn.call(this, value, byteOffset, encoding)
    const from = Math.max(0, byteOffset ?? 0)
    scanned += (at === -1 ? this.length : at + 1) - from
    return at
  }
  try {
    fn()
  } finally {
    Buffer.concat = concatFn
    Buffer.prototype.indexOf = indexOfFn
  }
  return { copied, scanned }
}

t.test('ReplyParser: a 20,000-bulk page in tiny chunks costs a bounded amount of work per byte', async t => {
  const n = 20_000
  const values = Array.from({ length: n }, (_, i) => `key:${i}`)
  const page = bytes(array([bulk('ENTRIES'), integer(n), bulkArray(values)]))
  for (const [name, chunks] of [['byte by byte', byteByByte(page)], ['1 to 7 bytes', smallChunks(page, 7)], ['1 to 600 bytes', smallChunks(page, 600)]] as const) {
    let got: RespValue[] = []
    const work = countWork(() => { got = readAllValues(chunks) })
    t.equal(got.length, 1, `${name}: one reply`)
    const reply = got[0] as RespValue[]
    t.equal((reply[2] as Buffer[]).length, n, `${name}: every element`)
    t.equal((reply[2] as Buffer[])[n - 1]?.toString(), `key:${n - 1}`)
    // Quadratic work (the whole page rejoined or rescanned per chunk) would be thousands of times the page.
    t.ok(work.copied <= 3 * page.length, `${name}: copied ${work.copied} bytes for a ${page.length}-byte page`)
    t.ok(work.scanned <= 3 * page.length, `${name}: scanned ${work.scanned} bytes for a ${page.length}-byte page`)
  }
})

t.test('ReplyParser: a long line and a large bulk in small chunks are joined once', async t => {
  const line = b(simple('x'.repeat(100_000)))
  const lineWork = countWork(() => t.same(readAllValues(byteByByte(line)), ['x'.repeat(100_000)]))
  t.ok(lineWork.copied <= line.length && lineWork.scanned <= 2 * line.length, `line: copied ${lineWork.copied}, scanned ${lineWork.scanned} of ${line.length}`)
  const value = allBytes(1 << 20)
  const reply = bytes(bulkArray([value, value]))
  const bulkWork = countWork(() => {
    const got = readAllValues(cutAt(reply, Array.from({ length: 1000 }, (_, i) => i * 2099)))
    t.ok((got[0] as Buffer[])[1]?.equals(value), 'the second megabyte intact')
  })
  t.ok(bulkWork.copied <= 2 * reply.length, `bulk: copied ${bulkWork.copied} of ${reply.length}`)
  t.ok(bulkWork.scanned < 100, `bulk data is never scanned (${bulkWork.scanned} bytes of lines)`)
})

function readAllValues (chunks: readonly Buffer[]): RespValue[] {
  const p = new ReplyParser()
  const out: RespValue[] = []
  for (const chunk of chunks) {
    p.feed(chunk)
    for (let v = p.next(); v !== undefined; v = p.next()) out.push(v)
  }
  return out
}

// --- property ---------------------------------------------------------------

const latin1Text = fc.array(fc.integer({ min: 0x20, max: 0xff }), { maxLength: 12 }).map(cs => String.fromCharCode(...cs))
const asciiText = fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 12 }).map(cs => String.fromCharCode(...cs))

/** A reply with what it should parse to. */
const arbReply: fc.Arbitrary<[Encoded, Plain]> = fc.letrec<{ reply: [Encoded, Plain] }>(tie => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    latin1Text.map((s): [Encoded, Plain] => [simple(s), s]),
    asciiText.map((s): [Encoded, Plain] => [error(s), { err: s }]),
    fc.integer({ min: -1e14, max: 1e14 }).map((n): [Encoded, Plain] => [integer(n), n]),
    fc.constant<[Encoded, Plain]>([NIL, null]),
    fc.constant<[Encoded, Plain]>(['*-1\r\n', null]),
    fc.uint8Array({ maxLength: 40 }).map((a): [Encoded, Plain] => [bulk(Buffer.from(a)), { bulk: Buffer.from(a).toString('hex') }]),
    fc.array(tie('reply'), { maxLength: 5 }).map((items): [Encoded, Plain] => [array(items.map(i => i[0])), items.map(i => i[1])])
  )
})).reply

t.test('property: replies, concatenated and cut anywhere, parse back exactly', async t => {
  fc.assert(fc.property(
    fc.array(arbReply, { minLength: 1, maxLength: 6 }),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
    (list, cutFractions) => {
      const input = bytes(concat(list.map(r => r[0])))
      const got = readAll(cutAt(input, cutFractions.map(f => Math.floor(f * input.length))))
      const want = list.map(r => r[1])
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`)
    }
  ), { numRuns: 300 })
  t.pass('300 runs')
})
