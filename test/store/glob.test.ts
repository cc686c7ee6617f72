import t from 'tap'
import fc from 'fast-check'
import { globMatch, globMatchNoCase } from '../../lib/store/glob.js'

interface Checks {
  ok: (value: unknown, message: string) => unknown
  notOk: (value: unknown, message: string) => unknown
}

function cases (t: Checks, pattern: string, yes: string[], no: string[]): void {
  for (const s of yes) t.ok(globMatch(pattern, s), `${JSON.stringify(pattern)} matches ${JSON.stringify(s)}`)
  for (const s of no) t.notOk(globMatch(pattern, s), `${JSON.stringify(pattern)} does not match ${JSON.stringify(s)}`)
}

t.test('literals', async t => {
  cases(t, 'hello', ['hello'], ['hell', 'helloo', 'Hello', ''])
  cases(t, '', [''], ['a'])
})

t.test('* matches any run, including none', async t => {
  cases(t, '*', ['', 'a', 'anything at all', '\x00\xff'], [])
  cases(t, 'h*llo', ['hllo', 'hello', 'heeeello', 'h*llo'], ['hell', 'hellox', 'xhello'])
  cases(t, 'user:*', ['user:', 'user:1', 'user:1:name'], ['user', 'users:1'])
  cases(t, '*:name', ['user:1:name', ':name'], ['user:1:names'])
  cases(t, '*a*b*', ['ab', 'xaxbx', 'ba b'], ['ba', 'a', ''])
  cases(t, '***', ['', 'abc'], [])
  cases(t, 'a**b', ['ab', 'axxb'], ['axxc'])
  cases(t, '*ab', ['aab', 'abab', 'ab'], ['aba', 'a'])
})

t.test('? matches exactly one character', async t => {
  cases(t, 'h?llo', ['hello', 'hallo', 'h\x00llo', 'h\xffllo'], ['hllo', 'heello'])
  cases(t, '???', ['abc'], ['ab', 'abcd'])
  cases(t, 'user:????', ['user:1234'], ['user:123', 'user:12345'])
  cases(t, '*?', ['a', 'ab'], [''])
})

t.test('[abc] classes', async t => {
  cases(t, 'h[ae]llo', ['hello', 'hallo'], ['hillo', 'hllo', 'haello'])
  cases(t, 'h[e]llo', ['hello'], ['hallo'])
  cases(t, '[abc][abc]', ['ab', 'ca'], ['a', 'ad', 'abc'])
  cases(t, '[]', [], ['', 'a', ']'])
  cases(t, '[*?]', ['*', '?'], ['a'])
})

t.test('[^a] negated classes', async t => {
  cases(t, 'h[^e]llo', ['hallo', 'hbllo'], ['hello', 'hllo'])
  cases(t, '[^abc]', ['d', 'z'], ['a', 'b', 'c', ''])
})

t.test('[a-z] ranges', async t => {
  cases(t, 'h[a-b]llo', ['hallo', 'hbllo'], ['hcllo', 'hello'])
  cases(t, '[a-z]llo', ['allo', 'zllo'], ['Allo', '1llo'])
  cases(t, '[z-a]', ['a', 'm', 'z'], ['A'])
  cases(t, '[0-9][0-9]', ['42'], ['4a'])
  cases(t, '[a-cx-z]', ['b', 'y'], ['m'])
  cases(t, '[^a-c]', ['d'], ['a', 'b', 'c'])
})

t.test('escapes', async t => {
  cases(t, 'a\\*b', ['a*b'], ['axb', 'ab', 'a\\*b'])
  cases(t, '\\?', ['?'], ['a'])
  cases(t, '\\[a]', ['[a]'], ['a'])
  cases(t, '\\\\', ['\\'], ['\\\\'])
  cases(t, '\\a', ['a'], ['\\a'])
  cases(t, 'a\\', ['a\\'], ['a'])
  cases(t, '[\\]]', [']'], ['\\'])
  cases(t, '[\\^a]', ['^', 'a'], ['b'])
  cases(t, '[a\\-z]', ['a', '-', 'z'], ['m'])
})

t.test('unterminated classes', async t => {
  cases(t, '[abc', ['a', 'c'], ['d', 'ab'])
  cases(t, 'x[', [], ['x', 'x[', 'xa'])
  cases(t, '[^', [], [''])
})

t.test('case', async t => {
  t.notOk(globMatch('HELLO', 'hello'))
  t.ok(globMatchNoCase('HELLO', 'hello'))
  t.ok(globMatchNoCase('H[A-Z]LLO', 'hello'))
  t.ok(globMatchNoCase('h*O', 'HeLLo'))
  t.notOk(globMatchNoCase('h?O', 'HeLLo'))
})

/**
 * `s` as the matcher sees a string, counting each character it reads (the
 * matcher indexes its inputs, `p[i]`): its work in steps rather than in ms, a
 * bound that holds on any machine however busy.
 */
function counted (s: string, steps: { reads: number }): string {
  return new Proxy(new String(s), {
    get (target, prop) {
      if (typeof prop === 'string' && prop !== 'length') steps.reads++
      return Reflect.get(target, prop)
    }
  }) as unknown as string
}

t.test('abusive patterns take linear-ish time (Redis CVE-2022-36021)', async t => {
  // keyspace.tcl "Regression for pattern matching long nested loops": a recursive
  // matcher takes exponential time here; the promise is O(pattern × text).
  let steps = { reads: 0 }
  const nested = 'a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b'
  const as = 'a'.repeat(40)
  t.notOk(globMatch(counted(nested, steps), counted(as, steps)))
  const bound = 4 * (nested.length + 1) * (as.length + 1) // at most 4 reads a step
  t.ok(steps.reads <= bound, `nested stars: ${steps.reads} characters read (O(pattern × text): at most ${bound})`)
  // "... very long nested loops": deep enough to overflow a recursive matcher's stack.
  // Redis gives up (no match) past 1000 levels; the answer here is the true one, and
  // with no backtracking to do, in time linear in the input.
  steps = { reads: 0 }
  const stars = '*?'.repeat(50_000)
  const long = 'a'.repeat(50_000)
  t.ok(globMatch(counted(stars, steps), counted(long, steps)))
  t.notOk(globMatch(counted(stars + 'b', steps), counted(long, steps)))
  const linear = 2 * 4 * (stars.length + 1 + long.length)
  t.ok(steps.reads <= linear, `50000 stars: ${steps.reads} characters read (linear: at most ${linear})`)
})

// A glob and the regular expression that means the same, built side by side.
const arbToken = fc.oneof(
  fc.constantFrom('a', 'b', 'c').map(c => ({ glob: c, re: c })),
  fc.constantFrom('*', '?', '[', ']', '\\', '-', '^').map(c => ({ glob: '\\' + c, re: '\\' + c })),
  fc.constant({ glob: '?', re: '.' }),
  fc.constant({ glob: '*', re: '.*' }),
  fc.record({
    negate: fc.boolean(),
    items: fc.array(fc.oneof(
      fc.constantFrom('a', 'b', 'c', 'd', '*', '?'),
      fc.constantFrom('a-b', 'b-d', 'c-a'),
      fc.constantFrom('\\]', '\\-', '\\\\', '\\^')
    ), { minLength: 1, maxLength: 3 })
  }).map(({ negate, items }) => ({
    glob: '[' + (negate ? '^' : '') + items.join('') + ']',
    re: '[' + (negate ? '^' : '') + items.map(i => i === 'c-a' ? 'a-c' : i.replace(/^([*?])$/, '\\$1')).join('') + ']'
  }))
)

t.test('property: agrees with an equivalent regular expression', async t => {
  fc.assert(fc.property(
    fc.array(arbToken, { maxLength: 7 }),
    fc.array(fc.constantFrom('a', 'b', 'c', 'd', '*', '?', '[', ']', '\\', '-', '^'), { maxLength: 8 }),
    (tokens, chars) => {
      const pattern = tokens.map(x => x.glob).join('')
      const re = new RegExp('^' + tokens.map(x => x.re).join('') + '$', 's')
      const text = chars.join('')
      if (globMatch(pattern, text) !== re.test(text)) {
        throw new Error(`${JSON.stringify(pattern)} vs ${JSON.stringify(text)}: regexp ${re} says ${re.test(text)}`)
      }
    }
  ), { numRuns: 3000 })
  t.pass('3000 runs')
})
