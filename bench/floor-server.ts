import net from 'node:net'

// The throughput section's floor (bench/run.ts): what Node.js itself costs a
// server of Keystone's shape, with nothing of Keystone in it. `node
// dist/bench/floor-server.js` listens on a free loopback port, prints
// `listening on HOST:PORT` to stderr, frames RESP requests off each socket as
// they come (arrays of bulk strings, what redis-benchmark sends) and answers
// every one `:1` in one write per read: no command table, no store, no
// replication, no bookkeeping. An estimate of how fast a server on Node's
// event loop and sockets can answer this load here: Keystone is that and
// its own work besides.

const REPLY = ':1\r\n'

/**
 * Requests complete in `buf`, and where the first incomplete one starts:
 * `*N\r\n` then N `$LEN\r\n<bytes>\r\n`. Nothing is checked beyond what
 * finding the end of a request needs; null for what is not such a request
 * (the connection is dropped: redis-benchmark never sends one).
 */
export function frame (buf: Buffer): { requests: number, rest: number } | null {
  let requests = 0
  let pos = 0
  outer: for (;;) {
    const start = pos
    let lf = buf.indexOf(10, pos)
    if (lf < 0) break
    let count = Number(buf.toString('latin1', pos + 1, lf - 1))
    if (buf[pos] !== 0x2a || !Number.isSafeInteger(count) || count < 0) return null
    pos = lf + 1
    while (count-- > 0) {
      if (pos >= buf.length) { pos = start; break outer }
      lf = buf.indexOf(10, pos)
      if (lf < 0) { pos = start; break outer }
      const length = Number(buf.toString('latin1', pos + 1, lf - 1))
      if (buf[pos] !== 0x24 || !Number.isSafeInteger(length) || length < 0) return null
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
    const framed = frame(buf)
    if (framed === null) {
      socket.destroy()
      return
    }
    pending = framed.rest < buf.length ? buf.subarray(framed.rest) : null
    if (framed.requests > 0) socket.write(REPLY.repeat(framed.requests), 'latin1')
  })
  socket.on('error', () => {})
}

/** Run as a program (not imported by the test of frame()). */
if (require.main === module) {
  const server = net.createServer(serve)
  server.listen(0, '127.0.0.1', () => {
    const a = server.address()
    if (a === null || typeof a === 'string') throw new Error('no address')
    process.stderr.write(`listening on ${a.address}:${a.port}\n`)
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
}
