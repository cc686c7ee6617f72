import t from 'tap'
import { jsonLogLine, logLine } from '../../lib/log.js'

// README.md §Logs: one line per event, whatever the message holds.

t.test('text: CR and LF in a message are escaped, fields with them are JSON strings', async t => {
  const line = logLine('debug', 'TLS failed: bad\r\nthing:\n', { why: 'a\nb', n: 1 })
  t.equal(line.split('\n').length, 2, 'one line, and its newline')
  t.match(line, / debug TLS failed: bad\\r\\nthing:\\n why="a\\nb" n=1\n$/)
})

t.test('json: one line already', async t => {
  const line = jsonLogLine('warn', 'x\ny', { f: 'a\rb' })
  t.equal(line.split('\n').length, 2)
  t.same(JSON.parse(line).msg, 'x\ny')
})
