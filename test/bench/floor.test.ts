import net from 'node:net'
import t from 'tap'
import { startFloor } from '../../bench/servers.js'

// bench/floor-server.ts, the throughput section's floor: it must answer every
// request once, however the requests are cut into reads, or redis-benchmark
// would wait for replies that never come (or count ones never asked for).

const REQUEST = '*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$10\r\n*xxxxx\r\nx$\r\n' // a value with '*', '$' and CRLF in it

t.test('one :1 per request, whatever the reads cut', async t => {
  const floor = await startFloor()
  t.teardown(() => floor.stop())
  const socket = net.connect(floor.port, floor.host)
  t.teardown(() => socket.destroy())
  await new Promise<void>(resolve => socket.once('connect', resolve))
  let received = ''
  socket.setEncoding('latin1').on('data', (s: string) => { received += s })
  const bytes = REQUEST.repeat(5) + '*1\r\n$4\r\nPING\r\n'
  // Cut everywhere: one byte per write, each sent before the next is written.
  for (const byte of bytes) {
    socket.write(byte, 'latin1')
    await new Promise(resolve => setImmediate(resolve))
  }
  socket.write(bytes, 'latin1') // and all at once
  const expected = ':1\r\n'.repeat(12)
  const deadline = Date.now() + 5000
  while (received.length < expected.length && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(received, expected, 'twelve requests, twelve replies') // one write per read: an extra reply would have come with the last
})
