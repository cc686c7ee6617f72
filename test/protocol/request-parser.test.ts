import t from 'tap'
import fc from 'fast-check'
import {
  DEFAULT_LIMITS,
  RequestParser,
  UNAUTHENTICATED_LIMITS,
  parseInteger,
  type ParserLimits
} from '../../lib/protocol/request-parser.js'
import { ProtocolError } from '../../lib/errors.js'
import { byteByByte, cutAt, show, threeWaySplits, twoWaySplits } from '../helpers/fixtures.js'

/** What a stream of bytes parses to: the commands (as latin1 strings) and the error that ended it. */
interface Outcome {
  commands: string[][]
  error: string | null
}

/** Feeds chunks one at a time, pulling every complete command after each, as a connection does. */
function parseChunks (chunks: readonly Buffer[], limits?: ParserLimits): Outcome {
  const p = new RequestParser(limits)
  const commands: string[][] = []
  for (const chunk of chunks) {
    p.feed(chunk)
    for (;;) {
      const r = p.next()
      if (r === null) break
      if (r instanceof ProtocolError) return { commands, error: r.message }
      commands.push(r.map(a => a.toString('latin1')))
    }
  }
  return { commands, error: null }
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1')
const ok = (...commands: string[][]): Outcome => ({ commands, error: null })
const fail = (error: string, ...commands: string[][]): Outcome => ({ commands, error })

/** A RESP request for args given as latin1 strings. */
function resp (...args: string[]): string {
  return `*${args.length}\r\n` + args.map(a => `$${a.length}\r\n${a}\r\n`).join('')
}

const BINARY = '\x00\xff\r\n\r\r\n\n$3\r\n*1\r\n'

interface Fixture {
  name: string
  input: Buffer
  expect: Outcome
  limits?: ParserLimits
}

const SMALL: ParserLimits = { inlineMax: 8, bulkMax: 5, multibulkMax: 3 }

const fixtures: Fixture[] = [
  { name: 'RESP PING', input: b('*1\r\n$4\r\nPING\r\n'), expect: ok(['PING']) },
  { name: 'RESP SET', input: b(resp('SET', 'key', 'value')), expect: ok(['SET', 'key', 'value']) },
  { name: 'RESP binary value', input: b(resp('SET', 'k', BINARY)), expect: ok(['SET', 'k', BINARY]) },
  { name: 'RESP empty bulk', input: b(resp('ECHO', '')), expect: ok(['ECHO', '']) },
  { name: 'RESP all 256 byte values', input: b(resp('SET', allBytes())), expect: ok(['SET', allBytes()]) },
  { name: '*0 is skipped', input: b('*0\r\n' + resp('PING')), expect: ok(['PING']) },
  { name: '*-1 is skipped', input: b('*-1\r\n*0\r\n' + resp('PING')), expect: ok(['PING']) },
  { name: 'inline CRLF', input: b('PING\r\n'), expect: ok(['PING']) },
  { name: 'inline LF', input: b('SET a b\n'), expect: ok(['SET', 'a', 'b']) },
  { name: 'inline tabs and spaces', input: b('  SET\t\ta  \t b \r\n'), expect: ok(['SET', 'a', 'b']) },
  {
    name: 'inline quotes and escapes',
    input: b('SET "k\\x00y\\n" \'it\\\'s\' "\\xff\\t\\"q\\"" ""\r\n'),
    expect: ok(['SET', 'k\x00y\n', "it's", '\xff\t"q"', ''])
  },
  { name: 'inline NUL bytes', input: b('SET a\x00b \x00\n'), expect: ok(['SET', 'a\x00b', '\x00']) },
  { name: 'inline high bytes', input: b('SET \xff\xfe \x80\n'), expect: ok(['SET', '\xff\xfe', '\x80']) },
  { name: 'inline lone CR is a separator', input: b('a\rb\n'), expect: ok(['a', 'b']) },
  { name: 'inline starting with $', input: b('$3 x\n'), expect: ok(['$3', 'x']) },
  { name: 'empty lines are ignored', input: b('\r\n\n\r\n   \t\r\nPING\n\n'), expect: ok(['PING']) },
  {
    name: 'pipelined mix',
    input: b(resp('SET', 'a', BINARY) + 'GET a\r\n' + '\n' + '*0\r\n' + resp('DEL', 'a') + 'ECHO "x y"\n' + resp('PING')),
    expect: ok(['SET', 'a', BINARY], ['GET', 'a'], ['DEL', 'a'], ['ECHO', 'x y'], ['PING'])
  },
  {
    name: 'bulk data that looks like RESP',
    input: b(resp('SET', '*2\r\n$3\r\nfoo\r\n', 'PING\r\n')),
    expect: ok(['SET', '*2\r\n$3\r\nfoo\r\n', 'PING\r\n'])
  },

  // framing errors: the commands before the error are still delivered
  { name: 'unbalanced double quote', input: b('PING\nSET "abc\r\n'), expect: fail('unbalanced quotes in request', ['PING']) },
  { name: 'unbalanced single quote', input: b("SET 'abc\n"), expect: fail('unbalanced quotes in request') },
  { name: 'closing quote then a letter', input: b('SET "a"b\n'), expect: fail('unbalanced quotes in request') },
  { name: 'non-numeric multibulk count', input: b('*abc\r\n'), expect: fail('invalid multibulk length') },
  { name: 'multibulk count with junk', input: b('*1x\r\n$1\r\na\r\n'), expect: fail('invalid multibulk length') },
  { name: 'empty multibulk count', input: b('*\r\n'), expect: fail('invalid multibulk length') },
  { name: 'multibulk count LF only', input: b('*1\n$1\r\na\r\n'), expect: fail('expected CRLF after multibulk count') },
  { name: 'non-numeric bulk length', input: b('*1\r\n$x\r\n'), expect: fail('invalid bulk length') },
  { name: 'empty bulk length', input: b('*1\r\n$\r\nabc\r\n'), expect: fail('invalid bulk length') },
  { name: 'bulk length with a plus', input: b('*1\r\n$+3\r\nabc\r\n'), expect: fail('invalid bulk length') },
  { name: 'bulk length with a space', input: b('*1\r\n$ 3\r\nabc\r\n'), expect: fail('invalid bulk length') },
  { name: 'negative bulk length', input: b('*1\r\n$-1\r\n'), expect: fail('invalid bulk length') },
  { name: 'negative bulk length -5', input: b('*1\r\n$-5\r\nabc\r\n'), expect: fail('invalid bulk length') },
  { name: 'huge bulk length', input: b('*1\r\n$99999999999999999999\r\n'), expect: fail('invalid bulk length') },
  { name: 'bulk data then LF CR', input: b(resp('PING') + '*1\r\n$3\r\nabc\n\r'), expect: fail('expected CRLF after bulk data', ['PING']) },
  { name: 'bulk data then CR CR', input: b('*1\r\n$3\r\nabc\r\r'), expect: fail('expected CRLF after bulk data') },
  { name: 'bulk data too long', input: b('*1\r\n$3\r\nabcd\r\n'), expect: fail('expected CRLF after bulk data') },
  { name: 'bulk data too short', input: b('*2\r\n$3\r\nab\r\n$1\r\nx\r\n'), expect: fail('expected CRLF after bulk data') },
  { name: '$ expected, : found', input: b('*1\r\n:3\r\n'), expect: fail("expected '$', got ':'") },
  { name: '$ expected, plain text found', input: b('*2\r\n$3\r\nGET\r\nkey\r\n'), expect: fail("expected '$', got 'k'") },
  { name: 'bulk header LF only', input: b('*1\r\n$3\nabc\r\n'), expect: fail('expected CRLF after bulk count') },
  { name: 'overlong multibulk header', input: b('*' + '1'.repeat(100)), expect: fail('too big multibulk count string') },
  { name: 'overlong bulk header', input: b('*1\r\n$' + '1'.repeat(100)), expect: fail('too big bulk count string') },
  // A header line may be 64 bytes before its LF ($, digits, CR); one more is too big, LF or not.
  { name: 'bulk header line of 64 bytes', input: b('*1\r\n$' + '1'.repeat(62) + '\r\n'), expect: fail('invalid bulk length') },
  { name: 'bulk header line of 65 bytes', input: b('*1\r\n$' + '1'.repeat(63) + '\r\n'), expect: fail('too big bulk count string') },
  // (limits given: its bytes end mid-line, so it stays out of the concatenation test below)
  { name: 'bulk header of 64 bytes, no LF yet', input: b('*1\r\n$' + '1'.repeat(63)), expect: ok(), limits: DEFAULT_LIMITS },
  { name: 'bulk header of 65 bytes, no LF yet', input: b('*1\r\n$' + '1'.repeat(64)), expect: fail('too big bulk count string') },

  // limits, with small ones so every split stays cheap
  { name: 'inline at the limit, CRLF', input: b('12345678\r\nPING\n'), expect: ok(['12345678'], ['PING']), limits: SMALL },
  { name: 'inline at the limit, LF', input: b('12345678\nPING\n'), expect: ok(['12345678'], ['PING']), limits: SMALL },
  { name: 'inline over the limit, with LF', input: b('123456789\n'), expect: fail('too big inline request'), limits: SMALL },
  { name: 'inline over the limit, with CRLF', input: b('123456789\r\n'), expect: fail('too big inline request'), limits: SMALL },
  { name: 'inline over the limit, no newline', input: b('123456789'), expect: fail('too big inline request'), limits: SMALL },
  { name: 'inline with as many args as allowed', input: b('a b c\n'), expect: ok(['a', 'b', 'c']), limits: SMALL },
  { name: 'inline with too many args', input: b('a b c d\n'), expect: fail('invalid multibulk length'), limits: SMALL },
  { name: 'bulk at the limit', input: b(resp('12345')), expect: ok(['12345']), limits: SMALL },
  { name: 'bulk over the limit', input: b(resp('123456')), expect: fail('invalid bulk length'), limits: SMALL },
  { name: 'multibulk at the limit', input: b(resp('a', 'b', 'c')), expect: ok(['a', 'b', 'c']), limits: SMALL },
  { name: 'multibulk over the limit', input: b(resp('a', 'b', 'c', 'd')), expect: fail('invalid multibulk length'), limits: SMALL }
]

function allBytes (): string {
  let s = ''
  for (let i = 0; i < 256; i++) s += String.fromCharCode(i)
  return s
}

t.test('fixtures fed whole', async t => {
  for (const f of fixtures) t.same(parseChunks([f.input], f.limits), f.expect, f.name)
})

t.test('fixtures fed byte by byte', async t => {
  for (const f of fixtures) t.same(parseChunks(byteByByte(f.input), f.limits), f.expect, f.name)
})

t.test('fixtures split in two at every byte boundary', async t => {
  for (const f of fixtures) {
    let bad: string | null = null
    for (const { at, chunks } of twoWaySplits(f.input)) {
      const got = parseChunks(chunks, f.limits)
      if (JSON.stringify(got) !== JSON.stringify(f.expect)) {
        bad = `split at ${at}: ${JSON.stringify(got)}`
        break
      }
    }
    t.equal(bad, null, `${f.name} ${show(f.input)}`)
  }
})

t.test('fixtures split in three', async t => {
  for (const f of fixtures) {
    let bad: string | null = null
    for (const { at, chunks } of threeWaySplits(f.input, 100)) {
      const got = parseChunks(chunks, f.limits)
      if (JSON.stringify(got) !== JSON.stringify(f.expect)) {
        bad = `split at ${at.join(',')}: ${JSON.stringify(got)}`
        break
      }
    }
    t.equal(bad, null, `${f.name} ${show(f.input)}`)
  }
})

t.test('all fixtures concatenated, split everywhere', async t => {
  // every successful fixture back to back (same default limits), then one error
  const good = fixtures.filter(f => f.expect.error === null && f.limits === undefined)
  const input = Buffer.concat([...good.map(f => f.input), b('*1\r\n$x\r\n')])
  const expect: Outcome = { commands: good.flatMap(f => f.expect.commands), error: 'invalid bulk length' }
  t.same(parseChunks([input]), expect, 'whole')
  t.same(parseChunks(byteByByte(input)), expect, 'byte by byte')
  let bad: string | null = null
  for (const { at, chunks } of twoWaySplits(input)) {
    if (JSON.stringify(parseChunks(chunks)) !== JSON.stringify(expect)) { bad = `split at ${at}`; break }
  }
  t.equal(bad, null, 'every two-way split')
})

t.test('arguments are exact byte strings, not re-encoded', async t => {
  const p = new RequestParser()
  const value = Buffer.from([0x00, 0xff, 0xc3, 0x28, 0x0d, 0x0a, 0x80])
  p.feed(Buffer.concat([b('*2\r\n$3\r\nSET\r\n$7\r\n'), value, b('\r\n')]))
  const r = p.next()
  if (!Array.isArray(r)) throw new Error('expected a command')
  t.ok(Buffer.isBuffer(r[1]), 'a Buffer')
  t.ok(value.equals(r[1] as Buffer), 'same bytes')
  t.equal(p.next(), null, 'nothing more')
  t.equal(p.buffered, 0, 'nothing left buffered')
})

t.test('commands are pulled one at a time and unparsed bytes wait', async t => {
  const p = new RequestParser()
  p.feed(b(resp('A') + 'B\n' + resp('C')))
  t.same(p.next(), [b('A')])
  t.equal(p.buffered, b('B\n' + resp('C')).length, 'the rest waits in the parser')
  t.same(p.next(), [b('B')])
  t.same(p.next(), [b('C')])
  t.equal(p.next(), null)
  t.equal(p.buffered, 0)
})

t.test('after an error the parser stays failed', async t => {
  const p = new RequestParser()
  p.feed(b('PING\n*1\r\n$x\r\n' + resp('GET', 'k')))
  t.same(p.next(), [b('PING')])
  const err = p.next()
  t.type(err, ProtocolError)
  t.equal((err as ProtocolError).code, 'KS_ERR_PROTOCOL')
  t.equal((err as ProtocolError).message, 'invalid bulk length')
  t.equal(p.buffered, 0, 'buffered bytes released')
  p.feed(b(resp('PING')))
  t.equal(p.buffered, 0, 'later bytes are not buffered')
  t.equal(p.next(), err, 'the same error again')
  t.equal(p.next(), err, 'and again')
})

t.test('a 10 MB inline line in 64 KiB chunks fails once past the limit and buffers no more', async t => {
  const p = new RequestParser()
  const chunk = Buffer.alloc(64 * 1024, 'a')
  const total = 10 * 1024 * 1024 / chunk.length
  let failedAt = -1
  let maxBuffered = 0
  for (let i = 0; i < total; i++) {
    p.feed(chunk)
    maxBuffered = Math.max(maxBuffered, p.buffered)
    const r = p.next()
    if (r instanceof ProtocolError) {
      if (failedAt === -1) failedAt = i
      t.equal(r.message, 'too big inline request')
    } else {
      t.equal(r, null, `chunk ${i}: no command yet`)
    }
  }
  t.equal(failedAt, 1, 'fails on the chunk that passes 64 KiB')
  t.ok(maxBuffered <= 2 * chunk.length, `never buffered more than two chunks (${maxBuffered})`)
  t.equal(p.buffered, 0)
  p.feed(b('\n'))
  t.type(p.next(), ProtocolError, 'a newline at last does not revive it')
})

t.test('the default inline limit is 64 KiB of line, not counting its ending', async t => {
  const line = 'x'.repeat(DEFAULT_LIMITS.inlineMax)
  t.same(parseChunks([b(line + '\r\n')]), ok([line]), 'exactly 64 KiB with CRLF')
  t.same(parseChunks([b(line + '\n')]), ok([line]), 'exactly 64 KiB with LF')
  t.same(parseChunks(cutAt(b(line + '\r\n'), [line.length + 1])), ok([line]), 'CR and LF in separate chunks')
  t.same(parseChunks([b(line + 'x\n')]), fail('too big inline request'), 'one byte more, with LF')
  t.same(parseChunks([b(line + 'x')]), fail('too big inline request'), 'one byte more, no LF yet')
})

t.test('a bulk length over the limit fails before its data arrives', async t => {
  const p = new RequestParser()
  p.feed(b(`*1\r\n$${DEFAULT_LIMITS.bulkMax + 1}\r\n`))
  const r = p.next()
  t.type(r, ProtocolError)
  t.equal((r as ProtocolError).message, 'invalid bulk length')
})

t.test('a multibulk count over the limit fails at once', async t => {
  const p = new RequestParser()
  p.feed(b(`*${DEFAULT_LIMITS.multibulkMax + 1}\r\n`))
  t.equal((p.next() as ProtocolError).message, 'invalid multibulk length')
  const q = new RequestParser()
  q.feed(b(`*${DEFAULT_LIMITS.multibulkMax}\r\n`))
  t.equal(q.next(), null, 'the maximum itself waits for its bulks')
})

t.test('unauthenticated limits: 10 arguments, 16 KiB each', async t => {
  const U = UNAUTHENTICATED_LIMITS
  t.same(U, { inlineMax: 16 * 1024, bulkMax: 16 * 1024, multibulkMax: 10 })
  const ten = Array.from({ length: 10 }, (_, i) => `a${i}`)
  t.same(parseChunks([b(resp(...ten))], U), ok(ten), '10 RESP arguments')
  t.same(parseChunks([b('*11\r\n')], U), fail('invalid multibulk length'), '11 fail on the header alone')
  t.same(parseChunks([b(ten.join(' ') + '\n')], U), ok(ten), '10 inline arguments')
  t.same(parseChunks([b(ten.join(' ') + ' x\n')], U), fail('invalid multibulk length'), '11 inline arguments')
  const big = 'v'.repeat(16 * 1024)
  t.same(parseChunks([b(resp('AUTH', big))], U), ok(['AUTH', big]), '16 KiB argument')
  t.same(parseChunks([b('*2\r\n$4\r\nAUTH\r\n$16385\r\n')], U), fail('invalid bulk length'),
    '16 KiB + 1 fails on the header, before any data')
  t.same(parseChunks([b('x'.repeat(16 * 1024 + 1))], U), fail('too big inline request'), 'inline line over 16 KiB')
  t.same(parseChunks([b('x'.repeat(16 * 1024 + 1))]), ok(), 'under the default limits the same bytes wait for a newline')
})

t.test('limits can be raised once authenticated', async t => {
  const p = new RequestParser(UNAUTHENTICATED_LIMITS)
  p.feed(b(resp('AUTH', 'pw')))
  t.same(p.next(), [b('AUTH'), b('pw')])
  p.limits = DEFAULT_LIMITS
  const args = Array.from({ length: 20 }, (_, i) => String(i))
  p.feed(b(resp(...args)))
  t.same((p.next() as Buffer[]).map(a => a.toString()), args)
})

t.test('parseInteger', async t => {
  const n = (s: string): number | null => parseInteger(b(s), 0, s.length)
  t.equal(n('0'), 0)
  t.equal(n('42'), 42)
  t.equal(n('-7'), -7)
  t.equal(n('999999999999999'), 999999999999999, '15 digits')
  t.equal(n('9999999999999999'), null, '16 digits')
  t.equal(n(''), null)
  t.equal(n('-'), null)
  t.equal(n('+1'), null)
  t.equal(n('1 '), null)
  t.equal(n('1.5'), null)
  t.equal(n('0x10'), null)
  t.equal(parseInteger(b('$123\r\n'), 1, 4), 123, 'a span inside a buffer')
})

// --- property: random commands, random encodings, random cuts ---------------

const SPECIAL = new Set([9, 10, 13, 32, 34, 39])

/** Inline without quotes is possible for non-empty args with no separators or quotes, not starting with `*`. */
function plainInline (args: readonly Buffer[]): Buffer | null {
  if (args.some(a => a.length === 0 || a.some(c => SPECIAL.has(c)))) return null
  if (args[0]?.[0] === 42) return null
  return Buffer.concat(args.flatMap((a, i) => i === 0 ? [a] : [b(' '), a]))
}

/** Inline with every argument double-quoted: quotes, backslashes and control bytes escaped. */
function quotedInline (args: readonly Buffer[], tabs: boolean): Buffer {
  const parts = args.map(a => {
    let s = '"'
    for (const c of a) {
      if (c === 34) s += '\\"'
      else if (c === 92) s += '\\\\'
      else if (c < 32 || c === 127) s += '\\x' + c.toString(16).padStart(2, '0')
      else s += String.fromCharCode(c)
    }
    return s + '"'
  })
  return b(parts.join(tabs ? ' \t ' : ' '))
}

function respOf (args: readonly Buffer[]): Buffer {
  return Buffer.concat([b(`*${args.length}\r\n`), ...args.flatMap(a => [b(`$${a.length}\r\n`), a, b('\r\n')])])
}

const arbArg = fc.oneof(
  fc.uint8Array({ maxLength: 12 }),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map(a => a.map(c => 97 + (c % 26))), // plain letters
  fc.constantFrom(new Uint8Array([13, 10]), new Uint8Array([0]), new Uint8Array([255, 0, 13])),
  fc.uint8Array({ minLength: 100, maxLength: 300 })
).map(a => Buffer.from(a))

const arbCommand = fc.record({
  args: fc.array(arbArg, { minLength: 1, maxLength: 6 }),
  encoding: fc.constantFrom('resp', 'plain', 'quoted', 'quoted-tabs'),
  crlf: fc.boolean(),
  blankLineBefore: fc.boolean()
})

t.test('property: encoded commands, concatenated and cut anywhere, parse back exactly', async t => {
  fc.assert(fc.property(
    fc.array(arbCommand, { minLength: 1, maxLength: 8 }),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
    (commands, cutFractions) => {
      const parts: Buffer[] = []
      for (const c of commands) {
        if (c.blankLineBefore) parts.push(b(c.crlf ? '\r\n' : '\n'))
        const eol = b(c.crlf ? '\r\n' : '\n')
        const plain = c.encoding === 'plain' ? plainInline(c.args) : null
        if (plain !== null) parts.push(plain, eol)
        else if (c.encoding === 'quoted') parts.push(quotedInline(c.args, false), eol)
        else if (c.encoding === 'quoted-tabs') parts.push(quotedInline(c.args, true), eol)
        else parts.push(respOf(c.args))
      }
      const input = Buffer.concat(parts)
      const chunks = cutAt(input, cutFractions.map(f => Math.floor(f * input.length)))
      const got = parseChunks(chunks)
      const want = ok(...commands.map(c => c.args.map(a => a.toString('latin1'))))
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`)
      }
    }
  ), { numRuns: 300 })
  t.pass('300 runs')
})

t.test('property: garbage never throws, and every split gives the same outcome', async t => {
  const arbGarbage = fc.array(fc.oneof(
    fc.constantFrom('*', '$', '\r', '\n', '\r\n', '"', "'", '\\', ' ', '1', '3', '-', 'a', '\x00'),
    fc.constantFrom('*1\r\n', '$3\r\n', 'abc', '*2\r\n$1\r\n', '\\x4', '\\x41')
  ), { maxLength: 30 }).map(parts => b(parts.join('')))
  fc.assert(fc.property(arbGarbage, fc.nat(), (input, cut) => {
    const whole = parseChunks([input], SMALL)
    const split = parseChunks(cutAt(input, [cut % (input.length + 1)]), SMALL)
    if (JSON.stringify(whole) !== JSON.stringify(split)) {
      throw new Error(`${JSON.stringify(input.toString('latin1'))}: ${JSON.stringify(whole)} vs ${JSON.stringify(split)}`)
    }
    const bytes = parseChunks(byteByByte(input), SMALL)
    if (JSON.stringify(whole) !== JSON.stringify(bytes)) {
      throw new Error(`${JSON.stringify(input.toString('latin1'))} byte by byte: ${JSON.stringify(whole)} vs ${JSON.stringify(bytes)}`)
    }
  }), { numRuns: 1000 })
  t.pass('1000 runs')
})
