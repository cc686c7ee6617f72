import net from 'node:net'
import t from 'tap'
import { frame } from '../../bench/floor-server.js'
import { startFloor } from '../../bench/servers.js'

// bench/floor-server.ts, the throughput section's floor: it must answer every
// request once, however the requests are cut into reads, or redis-benchmark
// would wait for replies that never come (or count ones never asked for).

/** A SET whose value holds '*', '$' and CRLF, then a PING. */
const REQUESTS = ['*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$10\r\n*xxxxx\r\nx$\r\n', '*1\r\n$4\r\nPING\r\n']

t.test('frame: every cut of the bytes gives the requests complete before it, and the rest starts the next', async t => {
  const bytes = Buffer.from(REQUESTS.join(''), 'latin1')
  const ends = [REQUESTS[0]?.length as number, bytes.length]
  let wrong = 0
  for (let cut = 0; cut <= bytes.length; cut++) {
    const framed = frame(bytes.subarray(0, cut))
    const complete = ends.filter(end => end <= cut)
    const expected = { requests: complete.length, rest: complete.at(-1) ?? 0 }
    if (framed === null || framed.requests !== expected.requests || framed.rest !== expected.rest) {
      wrong++
      t.fail(`cut at ${cut}: ${JSON.stringify(framed)}, expected ${JSON.stringify(expected)}`)
    }
  }
  t.equal(wrong, 0, `all ${bytes.length + 1} cuts`)
})

t.test('frame: what is not a RESP array of bulk strings is refused', async t => {
  for (const bad of ['PING\r\n', '*x\r\n', '*1\r\n+OK\r\n', '*1\r\n$x\r\n', '*-1\r\n']) {
    t.equal(frame(Buffer.from(bad, 'latin1')), null, JSON.stringify(bad))
  }
})

t.test('the floor server answers one :1 per request over a socket, in pieces or all at once', async t => {
  const floor = await startFloor()
  t.teardown(() => floor.stop())
  const socket = net.connect(floor.port, floor.host)
  t.teardown(() => socket.destroy())
  await new Promise<void>(resolve => socket.once('connect', resolve))
  let received = ''
  socket.setEncoding('latin1').on('data', (s: string) => { received += s })
  const bytes = REQUESTS.join('').repeat(3)
  // Pieces of 7 bytes, whatever reads the server makes of them (frame()'s test above cuts exactly).
  for (let at = 0; at < bytes.length; at += 7) socket.write(bytes.slice(at, at + 7), 'latin1')
  socket.write(bytes, 'latin1')
  const expected = ':1\r\n'.repeat(12)
  const deadline = Date.now() + 5000
  while (received.length < expected.length && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(received, expected, 'twelve requests, twelve replies')
})
