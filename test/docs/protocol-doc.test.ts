import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { KeystoneNode } from '../../lib/node.js'
import { silentLogger } from '../../lib/log.js'
import { ERRORS } from '../../lib/commands/errors.js'
import { ProtocolError } from '../../lib/errors.js'
import { DEFAULT_LIMITS, RequestParser, UNAUTHENTICATED_LIMITS, type ParserLimits } from '../../lib/protocol/request-parser.js'

// PROTOCOL.md must keep up with the code (STYLE.md §Types, options, errors: fastify's
// test that every error code is in its Errors.md). Adding a command, an error text or
// a protocol error without documenting it fails here.

/** The repository root: from dist/test/docs/ three levels up, else where tap runs (the root). */
function repoRoot (): string {
  const candidates = [process.cwd()]
  if (typeof __dirname === 'string') candidates.unshift(path.resolve(__dirname, '..', '..', '..'))
  for (const dir of candidates) {
    if (existsSync(path.join(dir, 'PROTOCOL.md')) && existsSync(path.join(dir, 'lib'))) return dir
  }
  throw new Error(`PROTOCOL.md not found in ${candidates.join(' or ')}`)
}

const root = repoRoot()
const doc = readFileSync(path.join(root, 'PROTOCOL.md'), 'utf8')

interface Markdown {
  /** Heading texts, without the leading #s. */
  headings: string[]
  /** Inline code spans, without their backticks. */
  codeSpans: string[]
}

/** Headings and inline code spans outside fenced blocks. Enough Markdown for these checks. */
function parseMarkdown (md: string): Markdown {
  const headings: string[] = []
  const codeSpans: string[] = []
  let fenced = false
  for (const line of md.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      continue
    }
    if (fenced) continue
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) headings.push(heading[1] ?? '')
    for (const m of line.matchAll(/(`+)(.+?)\1(?!`)/g)) codeSpans.push((m[2] ?? '').trim())
  }
  return { headings, codeSpans }
}

const markdown = parseMarkdown(doc)

/** Every .ts file under dir. */
function sourceFiles (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(full))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full)
  }
  return out
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

t.test('every client command is named in a heading or code span of PROTOCOL.md', async t => {
  // A node's table: the client commands and the cluster's (never started, so nothing listens)
  const names = Object.keys(new KeystoneNode({ dataDir: '' }, { log: silentLogger }).table)
  t.ok(names.length >= 20, `the command table has ${names.length} commands`)
  const places = [...markdown.headings, ...markdown.codeSpans]
  for (const name of names) {
    const word = new RegExp(`(^|[^A-Za-z0-9_-])${escapeRegExp(name.toUpperCase())}($|[^A-Za-z0-9_-])`)
    t.ok(places.some(p => word.test(p)), `${name.toUpperCase()} is documented in PROTOCOL.md`)
  }
})

t.test('every error template in lib/commands/errors.ts appears verbatim in PROTOCOL.md', async t => {
  const templates = Object.entries(ERRORS)
  t.ok(templates.length >= 10, `ERRORS has ${templates.length} templates`)
  for (const [name, template] of templates) {
    t.ok(doc.includes(template), `ERRORS.${name} is in PROTOCOL.md: ${template}`)
  }
})

/** Bad inputs and the protocol error each must produce. */
const BAD_INPUTS: ReadonlyArray<{ input: string, limits?: ParserLimits, message: string }> = [
  { input: 'ECHO "a\r\n', message: 'unbalanced quotes in request' },
  { input: 'ECHO "a"b\r\n', message: 'unbalanced quotes in request' },
  { input: "ECHO 'a\r\n", message: 'unbalanced quotes in request' },
  { input: 'x'.repeat(DEFAULT_LIMITS.inlineMax + 1), message: 'too big inline request' },
  { input: 'x'.repeat(DEFAULT_LIMITS.inlineMax + 1) + '\r\n', message: 'too big inline request' },
  { input: 'x'.repeat(UNAUTHENTICATED_LIMITS.inlineMax + 1) + '\r\n', limits: UNAUTHENTICATED_LIMITS, message: 'too big inline request' },
  { input: 'a b c d e f g h i j k\r\n', limits: UNAUTHENTICATED_LIMITS, message: 'invalid multibulk length' },
  { input: '*x\r\n', message: 'invalid multibulk length' },
  { input: `*${DEFAULT_LIMITS.multibulkMax + 1}\r\n`, message: 'invalid multibulk length' },
  { input: '*11\r\n', limits: UNAUTHENTICATED_LIMITS, message: 'invalid multibulk length' },
  { input: `*${'1'.repeat(70)}\r\n`, message: 'too big multibulk count string' },
  { input: '*1\n', message: 'expected CRLF after multibulk count' },
  { input: '*1\r\n:1\r\n', message: "expected '$', got ':'" },
  { input: '*1\r\n$x\r\n', message: 'invalid bulk length' },
  { input: '*1\r\n$-1\r\n', message: 'invalid bulk length' },
  { input: `*1\r\n$${DEFAULT_LIMITS.bulkMax + 1}\r\n`, message: 'invalid bulk length' },
  { input: '*1\r\n$16385\r\n', limits: UNAUTHENTICATED_LIMITS, message: 'invalid bulk length' },
  { input: `*1\r\n$${'1'.repeat(70)}\r\n`, message: 'too big bulk count string' },
  { input: '*1\r\n$4\n', message: 'expected CRLF after bulk count' },
  { input: '*1\r\n$4\r\nPINGxx', message: 'expected CRLF after bulk data' }
]

t.test('every protocol error the parser produces for bad input is in PROTOCOL.md', async t => {
  for (const { input, limits, message } of BAD_INPUTS) {
    const parser = new RequestParser(limits)
    parser.feed(Buffer.from(input, 'latin1'))
    let result = parser.next()
    while (Array.isArray(result)) result = parser.next()
    const shown = JSON.stringify(input.length > 40 ? input.slice(0, 20) + '...' : input)
    t.ok(result instanceof ProtocolError, `${shown} is a protocol error`)
    if (!(result instanceof ProtocolError)) continue
    t.equal(result.message, message, `${shown} gives '${message}'`)
    t.ok(doc.includes(result.message), `'${result.message}' is in PROTOCOL.md`)
  }
})

/**
 * The message argument of each `new ProtocolError(...)` in src, as a pattern: the
 * string literal with every `${...}` standing for any text. null when the argument
 * is not a string literal.
 */
function protocolErrorMessages (src: string): Array<{ source: string, pattern: RegExp | null }> {
  const out: Array<{ source: string, pattern: RegExp | null }> = []
  const marker = /new ProtocolError\(\s*/g
  for (let m = marker.exec(src); m !== null; m = marker.exec(src)) {
    let i = m.index + m[0].length
    const quote = src[i]
    if (quote !== "'" && quote !== '"' && quote !== '`') {
      out.push({ source: src.slice(m.index, src.indexOf('\n', m.index)).trim(), pattern: null })
      continue
    }
    let pattern = ''
    for (i++; i < src.length && src[i] !== quote; i++) {
      const c = src[i] as string
      if (c === '\\') {
        pattern += escapeRegExp(src[++i] ?? '')
      } else if (quote === '`' && c === '$' && src[i + 1] === '{') {
        let depth = 0
        for (; i < src.length; i++) {
          if (src[i] === '{') depth++
          else if (src[i] === '}' && --depth === 0) break
        }
        pattern += '.+?'
      } else {
        pattern += escapeRegExp(c)
      }
    }
    out.push({ source: src.slice(m.index, i + 2), pattern: new RegExp(pattern) })
  }
  return out
}

t.test('every `new ProtocolError(...)` in lib/ has its message in PROTOCOL.md', async t => {
  const files = sourceFiles(path.join(root, 'lib'))
  let count = 0
  for (const file of files) {
    for (const { source, pattern } of protocolErrorMessages(readFileSync(file, 'utf8'))) {
      count++
      const where = `${path.relative(root, file)}: ${source}`
      if (pattern === null) {
        t.fail(`${where}: the message is not a string literal; document it and teach this test to read it`)
      } else {
        t.match(doc, pattern, `${where} is documented in PROTOCOL.md`)
      }
    }
  }
  t.ok(count >= 8, `found ${count} protocol errors in lib/`)
})

t.test('every `PROTOCOL.md §Section` cited in lib/ and bin/ is a heading', async t => {
  const files = [...sourceFiles(path.join(root, 'lib')), ...sourceFiles(path.join(root, 'bin'))]
  const headings = markdown.headings
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/PROTOCOL\.md §([A-Za-z0-9][A-Za-z0-9 -]*)/g)) {
      const cited = (m[1] ?? '').trim()
      const found = headings.some(h => cited === h || (cited.startsWith(h) && /[^A-Za-z0-9]/.test(cited[h.length] ?? '')))
      t.ok(found, `${path.relative(root, file)} cites §${cited}`)
    }
  }
})

t.test('every link to a section of PROTOCOL.md leads to a heading', async t => {
  // GitHub's anchors: lower case, punctuation dropped, spaces as hyphens.
  const slug = (h: string): string => h.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')
  const anchors = new Set(markdown.headings.map(slug))
  for (const m of doc.matchAll(/\]\(#([^)]+)\)/g)) {
    t.ok(anchors.has(m[1] ?? ''), `#${m[1] ?? ''} is a heading`)
  }
})
