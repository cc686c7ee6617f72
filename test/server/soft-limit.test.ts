import t from 'tap'
import { connect, startNode } from '../helpers/server.js'

// A soft output limit below the socket's high-water mark (16 KiB) must not
// stall the connection: it acts as the mark (PROTOCOL.md §Back-pressure).

t.test('a tiny soft limit slows a client down but never stalls it', async t => {
  const node = await startNode(t, { clientOutputSoftLimit: 1000 })
  const client = await connect(t, node)
  const value = Buffer.alloc(3000, 'v')
  await client.call(['SET', 'big', value])
  const replies = await Promise.all(Array.from({ length: 2000 }, () => client.call(['GET', 'big'])))
  t.equal(replies.length, 2000)
  t.ok(replies.every(r => Buffer.isBuffer(r) && r.equals(value)), 'every reply whole')
})
