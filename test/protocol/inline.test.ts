import t from 'tap'
import { splitInlineArgs } from '../../lib/protocol/inline.js'

/** Splits a latin1 line; the arguments come back as latin1 strings, or null. */
function split (line: string): string[] | null {
  const buf = Buffer.from(line, 'latin1')
  const args = splitInlineArgs(buf, 0, buf.length)
  return args === null ? null : args.map(a => a.toString('latin1'))
}

t.test('plain tokens', async t => {
  t.same(split('SET key value'), ['SET', 'key', 'value'])
  t.same(split('GET k'), ['GET', 'k'])
  t.same(split(''), [], 'empty line')
  t.same(split('   '), [], 'only spaces')
  t.same(split('\t \t'), [], 'only tabs and spaces')
})

t.test('tabs and repeated spaces separate tokens', async t => {
  t.same(split('  SET\t\tk   \t v  '), ['SET', 'k', 'v'])
  t.same(split('a\tb'), ['a', 'b'])
})

t.test('NUL and high bytes are ordinary bytes', async t => {
  t.same(split('SET a\x00b \x00'), ['SET', 'a\x00b', '\x00'])
  t.same(split('\x00\x00 \xff\x80'), ['\x00\x00', '\xff\x80'])
  t.same(split('"\x00"'), ['\x00'], 'raw NUL inside quotes')
})

t.test('a span inside a larger buffer', async t => {
  const buf = Buffer.from('xxGET "a b"yy')
  const args = splitInlineArgs(buf, 2, 11)
  t.same(args?.map(a => a.toString()), ['GET', 'a b'], 'reads only [start, end)')
})

t.test('double quotes', async t => {
  t.same(split('SET "a key" "a value"'), ['SET', 'a key', 'a value'])
  t.same(split('""'), [''], 'empty quoted string')
  t.same(split('SET k ""'), ['SET', 'k', ''])
  t.same(split('"" ""'), ['', ''])
  t.same(split('"a\tb"'), ['a\tb'], 'raw tab inside quotes')
  t.same(split("\"it's\""), ["it's"], 'single quote inside double quotes')
})

t.test('double-quote escapes', async t => {
  t.same(split('"\\""'), ['"'], '\\"')
  t.same(split('"\\\\"'), ['\\'], '\\\\')
  t.same(split('"\\n"'), ['\n'], '\\n')
  t.same(split('"\\r"'), ['\r'], '\\r')
  t.same(split('"\\t"'), ['\t'], '\\t')
  t.same(split('"\\b"'), ['\b'], '\\b')
  t.same(split('"\\a"'), ['\x07'], '\\a')
  t.same(split('"a\\nb\\r\\n"'), ['a\nb\r\n'], 'several escapes')
  t.same(split('"\\\\n"'), ['\\n'], 'an escaped backslash before n')
  t.same(split('"\\q"'), ['q'], 'an unknown escape gives the character')
})

t.test('\\xHH escapes', async t => {
  t.same(split('"\\x41"'), ['A'])
  t.same(split('"\\x00"'), ['\x00'])
  t.same(split('"\\xff\\xFF\\xAb"'), ['\xff\xff\xab'], 'either case')
  t.same(split('"\\x0a\\x0d"'), ['\n\r'])
  t.same(split('"a\\x41b"'), ['aAb'])
  // an invalid \x escape is an `x` followed by the characters as they are (Redis)
  t.same(split('"\\xZZ"'), ['xZZ'], 'non-hex digits')
  t.same(split('"\\x4"'), ['x4'], 'one hex digit before the closing quote')
  t.same(split('"\\x4g"'), ['x4g'], 'second digit not hex')
  t.same(split('"\\x"'), ['x'], 'no digits')
})

t.test('single quotes: literal except \\\'', async t => {
  t.same(split("'a b'"), ['a b'])
  t.same(split("''"), [''], 'empty')
  t.same(split("'it\\'s'"), ["it's"], "\\' is a quote")
  t.same(split("'\\n\\x41\\\\ x'"), ['\\n\\x41\\\\ x'], 'other backslashes are literal')
  t.equal(split("'a\\\\'"), null, "a backslash before the closing quote escapes it, as in Redis")
  t.same(split("'\"'"), ['"'], 'a double quote inside')
})

t.test('a quote in the middle of a token', async t => {
  t.same(split('foo"bar baz"'), ['foobar baz'], 'opens a quoted part')
  t.same(split("ab'c d'"), ['abc d'])
  t.same(split('a"\\x41"'), ['aA'], 'escapes work there too')
  t.same(split('"a"\'b\''), null, 'a closing quote followed by another quote is not a separator')
})

t.test('a closing quote must be followed by a separator or the end', async t => {
  t.equal(split('"foo"bar'), null)
  t.equal(split("'foo'bar"), null)
  t.equal(split('SET "k"v x'), null)
  t.same(split('"foo" bar'), ['foo', 'bar'])
  t.same(split('"foo"\tbar'), ['foo', 'bar'])
  t.same(split('"foo"'), ['foo'], 'the end of the line')
})

t.test('unbalanced quotes', async t => {
  t.equal(split('"abc'), null)
  t.equal(split('SET k "abc'), null)
  t.equal(split("'abc"), null)
  t.equal(split('"abc\\"'), null, 'an escaped quote does not close')
  t.equal(split("'abc\\'"), null, "an escaped single quote does not close")
  t.equal(split('"abc\\'), null, 'a trailing backslash')
  t.equal(split('"'), null)
  t.equal(split("'"), null)
})
