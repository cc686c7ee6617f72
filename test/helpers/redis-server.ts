// A real redis-server for differential tests: found on PATH, started on a free
// port with no persistence, killed when the test ends.

import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { freePort, tempDir, waitFor, type Address, type Teardown } from './server.js'

/** How to get redis-server, for a skip message. */
export const INSTALL_HINT = 'install it to run this test (Debian/Ubuntu: apt-get install redis-server)'

/** The path of the redis-server executable on PATH, or null. */
export function findRedisServer (): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, 'redis-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

/** True once something at `address` answers PING with +PONG. */
async function answersPing (address: Address): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = net.connect(address)
    let received = ''
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', chunk => {
      received += chunk.toString('latin1')
      if (received.includes('\r\n')) done(received === '+PONG\r\n')
    })
    socket.on('error', () => done(false))
  })
}

/**
 * Starts `binary` on 127.0.0.1 and a free port, without RDB snapshots or AOF,
 * its working directory a temporary one; resolves once it answers PING.
 */
export async function startRedisServer (t: Teardown, binary: string): Promise<Address> {
  const dir = tempDir(t, 'keystone-redis-')
  const port = await freePort()
  const child = spawn(binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--loglevel', 'warning', '--protected-mode', 'no'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const address = { host: '127.0.0.1', port }
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr}`)
    return await answersPing(address)
  }, 10000, 'redis-server to answer PING')
  return address
}
