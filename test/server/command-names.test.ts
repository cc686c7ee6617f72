import t from 'tap'
import fc from 'fast-check'
import { RespError, type RespValue } from '../../lib/protocol/reply-parser.js'
import { connect, plain, startNode } from '../helpers/server.js'

// A command's name is found from the request's bytes (commands/index.ts
// findBytes): a name of up to 8 bytes by a cache slot that holds it exactly,
// a longer one as a string. Any spelling in any case must find its command,
// a name one byte off none, however the spellings share and replace slots.

/** Commands with a reply that depends on nothing written: of 1 to 11 bytes, across the 8-byte limit. */
const KNOWN: ReadonlyArray<{ args: string[], reply: unknown }> = [
  { args: ['PING'], reply: 'PONG' },
  { args: ['ECHO', 'x'], reply: 'x' },
  { args: ['TYPE', 'k'], reply: 'none' },
  { args: ['DBSIZE'], reply: 0 },
  { args: ['EXISTS', 'k'], reply: 0 },
  { args: ['STRLEN', 'k'], reply: 0 },
  { args: ['HEXISTS', 'k', 'f'], reply: 0 },
  { args: ['GETRANGE', 'k', '0', '1'], reply: '' },
  { args: ['SISMEMBER', 'k', 'm'], reply: 0 },
  { args: ['HRANDFIELD', 'k'], reply: null },
  { args: ['SRANDMEMBER', 'k'], reply: null }
]

/** The name with the letters whose bit in `mask` is set in lower case. */
function spelled (name: string, mask: number): string {
  return [...name].map((c, i) => (mask >> i) & 1 ? c.toLowerCase() : c).join('')
}

/** The name with byte `at` changed: no command has that name. */
function offByOne (name: string, at: number): string {
  const i = at % name.length
  return name.slice(0, i) + (name[i] === 'Q' ? 'Z' : 'Q') + name.slice(i + 1)
}

t.test('property: any spelling finds its command, a name one byte off finds none, in any order', async t => {
  const node = await startNode(t)
  const client = await connect(t, node)
  let requestsSent = 0
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ command: fc.nat(KNOWN.length - 1), mask: fc.nat(2047), unknownAt: fc.option(fc.nat(10), { freq: 4 }) }), { minLength: 1, maxLength: 40 }),
    async requests => {
      const sent = requests.map(r => {
        const known = KNOWN[r.command] as { args: string[], reply: unknown }
        const name = spelled(known.args[0] as string, r.mask)
        return { name: r.unknownAt === null ? name : offByOne(name, r.unknownAt), args: known.args.slice(1), known }
      })
      // Pipelined: the spellings meet in the cache in the order sent.
      const replies: RespValue[] = await Promise.all(sent.map(s => client.call([s.name, ...s.args])))
      requestsSent += sent.length
      return sent.every((s, i) => {
        const reply = replies[i] as RespValue
        if (s.name.toUpperCase() === s.known.args[0]) return JSON.stringify(plain(reply)) === JSON.stringify(s.known.reply)
        return reply instanceof RespError && reply.message.startsWith(`ERR unknown command '${s.name}'`)
      })
    }
  ), { numRuns: 200 })
  t.ok(requestsSent > 1000, `${requestsSent} requests, every reply as expected`)
})

t.test('names whose bytes differ from a command\'s only by a NUL, a leading zero byte or the high bit find none', async t => {
  const node = await startNode(t)
  const client = await connect(t, node)
  const bytes = (...b: number[]): Buffer => Buffer.from(b)
  const GET = [0x47, 0x45, 0x54]
  const near: Buffer[] = [
    bytes(0, ...GET), // the same packed number as GET: only the length tells them apart
    bytes(...GET, 0),
    bytes(0, 0, 0, 0, 0, ...GET), // 8 bytes: GET in the second number
    bytes(0x47 | 0x80, 0x45, 0x54),
    bytes(0x47, 0x45, 0x54 | 0x80),
    Buffer.from('GETRANG\0', 'latin1'),
    Buffer.from('\0ETRANGE', 'latin1')
  ]
  for (const name of near) {
    // GET just before and after: its slot and its spelling are in the cache.
    const replies = await Promise.all([client.call(['GET', 'k']), client.call([name, 'k']), client.call(['get', 'k'])])
    t.same(replies.map(r => r instanceof RespError ? 'error' : plain(r)), [null, 'error', null], JSON.stringify(name.toString('latin1')))
    t.match((replies[1] as RespError).message, /^ERR unknown command/, 'unknown command')
  }
})
