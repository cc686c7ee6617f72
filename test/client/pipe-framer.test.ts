import split2 from 'split2'
import t from 'tap'
import { PipeFramer, STREAM_AT, type InputError } from '../../lib/client/pipe-framer.js'
import { MAX_LINE } from '../../lib/client/pipe.js'

// keystone-cli --pipe's framing (README.md §Bulk loading): input through split2
// as keystone-cli reads it, fed in every possible two-piece split; what is
// handed on must be the input's own bytes, whole commands only.

interface Framed { sent: string, commands: number, errors: InputError[], partSent: boolean }

/** Runs `pieces` (latin1 text) through split2 and the framer, as keystone-cli does. */
async function frame (pieces: string[]): Promise<Framed> {
  const errors: InputError[] = []
  const framer = new PipeFramer(e => errors.push(e))
  let sent = ''
  const lines = split2('\n', { decodeStrings: false, maxLength: MAX_LINE })
  lines.on('data', (line: string) => {
    framer.line(line)
    sent += framer.take()
  })
  await new Promise<void>((resolve, reject) => {
    lines.on('end', resolve)
    lines.on('error', reject)
    for (const p of pieces) lines.write(p)
    lines.end()
  })
  framer.end()
  sent += framer.take()
  return { sent, commands: framer.commands, errors, partSent: framer.partSent }
}

const resp = (...args: string[]): string => `*${args.length}\r\n` + args.map(a => `$${a.length}\r\n${a}\r\n`).join('')
const bytes = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))

const fixtures: Array<{ name: string, input: string, commands: number, sent?: string }> = [
  { name: 'inline, CRLF and LF', input: 'SET a 1\r\nGET a\n', commands: 2 },
  { name: 'RESP', input: resp('SET', 'k', 'v') + resp('GET', 'k'), commands: 2 },
  { name: 'a value holding CRLF, LF, CR and every byte', input: resp('SET', 'k', `a\r\nb\nc\r${bytes}\n`) + resp('PING'), commands: 2 },
  { name: 'a value that is only line ends', input: resp('SET', '\n', '\r\n\r\n') + resp('ECHO', ''), commands: 2 },
  { name: 'mixed, per command', input: 'PING\r\n' + resp('SET', 'x', 'y') + "SET 'q q' \"v\\n\"\n" + resp('GET', 'x'), commands: 4 },
  { name: 'blank lines and *0 are not sent', input: '\r\n  \t\n*0\r\n*-1\r\nPING\n', commands: 1, sent: 'PING\n' },
  { name: 'no line end at the end of the input', input: 'PING', commands: 1, sent: 'PING\n' },
  { name: 'a data line starting with *', input: resp('SET', '*3', '*2\r\n$1'), commands: 1 }
]

t.test('what is sent is the input, byte for byte, at every split', async t => {
  for (const f of fixtures) {
    const expected = f.sent ?? f.input
    for (let cut = 0; cut <= f.input.length; cut++) {
      const r = await frame([f.input.slice(0, cut), f.input.slice(cut)])
      if (r.sent !== expected || r.commands !== f.commands || r.errors.length > 0) {
        t.fail(`${f.name}, split at ${cut}: ${JSON.stringify(r)}`)
        return
      }
    }
    t.pass(f.name)
  }
})

t.test('errors: where, and whether framing goes on', async t => {
  const quotes = await frame(['SET "a 1\nPING\n'])
  t.same(quotes.errors, [{ line: 1, message: 'unbalanced quotes, not sent', fatal: false }])
  t.equal(quotes.sent, 'PING\n', 'the line after it is sent')

  const cases: Array<[string, string, number]> = [
    ['*x\r\nPING\n', 'invalid multibulk length', 1],
    [resp('PING') + '*2\r\n$4\r\nECHO\r\n$1x\r\n', 'invalid bulk length', 7],
    ['*1\r\nPING\r\n', 'expected \'$\', got "PING\\r"', 2],
    ['*1\r\n$2\r\nabc\r\n', 'missing CRLF after bulk data', 3],
    ['*1\r\n$2\r\nab\nc\r\n', 'missing CRLF after bulk data', 4],
    [resp('PING') + '*2\r\n$4\r\nECHO\r\n', 'the input ended inside a command, not sent', 4]
  ]
  for (const [input, message, line] of cases) {
    const r = await frame([input])
    t.same(r.errors, [{ line, message, fatal: true }], message)
    t.equal(r.sent, input.startsWith(resp('PING')) ? resp('PING') : '', 'nothing of the bad command is sent')
  }
})

t.test('a command bigger than STREAM_AT goes out in parts, before it is whole', async t => {
  const big = 'x'.repeat(STREAM_AT + 10)
  const whole = await frame([resp('SET', 'k', big)])
  t.equal(whole.sent, resp('SET', 'k', big))
  t.equal(whole.commands, 1)
  const cut = await frame([resp('SET', 'k', big).slice(0, -2)])
  t.ok(cut.partSent, 'part of it was sent')
  t.match(cut.errors[0]?.message, /part of it was sent/)
})
