import net from 'node:net'

// The throughput section's floor (bench/run.ts): what Node.js itself costs a
// server of Keystone's shape, with nothing of Keystone in it. `node
// dist/bench/floor-server.js` listens on a free loopback port, prints
// `listening on HOST:PORT` to stderr, frames RESP requests off each socket as
// they come (arrays of bulk strings, what redis-benchmark sends) and answers
// every one `:1` in one write per read: no command table, no store, no
// replication, no bookkeeping. Keystone can go no faster than this on the same
// machine, so the ratio of this floor to Redis bounds every ratio of Keystone's.

const REPLY = ':1\r\n'

/**
 * Requests complete in `buf` from `at` on, and where the first incomplete one
 * starts: `*N\r\n` then N `$LEN\r\n<bytes>\r\n`. Nothing is checked beyond what
 * finding the end of a request needs.
 */
function frame (buf: Buffer, at: number): { requests: number, rest: number } {
  let requests = 0
  let pos = at
  outer: for (;;) {
    const start = pos
    let lf = buf.indexOf(10, pos)
    if (lf < 0) break
    let count = Number(buf.toString('latin1', pos + 1, lf - 1))
    pos = lf + 1
    while (count-- > 0) {
      lf = buf.indexOf(10, pos)
      if (lf < 0) { pos = start; break outer }
      const length = Number(buf.toString('latin1', pos + 1, lf - 1))
      pos = lf + 1 + length + 2
      if (pos > buf.length) { pos = start; break outer }
    }
    requests++
  }
  return { requests, rest: pos }
}

function serve (socket: net.Socket): void {
  let pending: Buffer | null = null
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    const { requests, rest } = frame(buf, 0)
    pending = rest < buf.length ? buf.subarray(rest) : null
    if (requests > 0) socket.write(REPLY.repeat(requests), 'latin1')
  })
  socket.on('error', () => {})
}

const server = net.createServer(serve)
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no address')
  process.stderr.write(`listening on ${a.address}:${a.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
