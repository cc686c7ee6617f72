import t from 'tap'
import { RequestParser } from '../lib/index.js'

t.test('parses a RESP command', async t => {
  const p = new RequestParser()
  p.feed(Buffer.from('*1\r\n$4\r\nPING\r\n'))
  const r = p.next()
  t.ok(Array.isArray(r))
})
