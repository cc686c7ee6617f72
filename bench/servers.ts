import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'

/** A server started for the benchmark, stopped at the end. */
export interface BenchServer {
  name: string
  host: string
  port: number
  pid: number
  stop: () => Promise<void>
}

const ROOT = path.resolve(__dirname, '..', '..')

/** Whether a program is on PATH. */
export function onPath (program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0
}

function stopper (child: ChildProcess): () => Promise<void> {
  return () => new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  })
}

/**
 * `node bin/keystone-server --port 0 --data-dir '' [serverArgs]`, with `env` added to
 * this process's environment; the port comes from its `listening on HOST:PORT` line
 * (printed once a joining node has joined).
 */
export function startKeystone (extraNodeArgs: string[] = [], serverArgs: string[] = [], env: Record<string, string> = {}): Promise<BenchServer> {
  return startNodeServer('keystone', [...extraNodeArgs, path.join(ROOT, 'bin', 'keystone-server'), '--port', '0', '--data-dir', '', ...serverArgs], env)
}

/** bench/floor-server.ts: Node.js framing RESP and answering `:1`, nothing more (the throughput section's floor). */
export function startFloor (): Promise<BenchServer> {
  return startNodeServer('floor', [path.join(ROOT, 'dist', 'bench', 'floor-server.js')])
}

/** A Node.js process that prints `listening on HOST:PORT` to stderr once it serves. */
function startNodeServer (name: string, args: string[], env: Record<string, string> = {}): Promise<BenchServer> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  return new Promise((resolve, reject) => {
    let log = ''
    let found = false
    const stderr = child.stderr as NodeJS.ReadableStream
    stderr.setEncoding('utf8')
    stderr.on('data', (text: string) => {
      if (found) return // keep draining so the server never blocks on a full pipe
      log += text
      const m = /listening on (\S+):(\d+)/.exec(log)
      if (m === null) return
      found = true
      resolve({ name, host: m[1] as string, port: Number(m[2]), pid: child.pid as number, stop: stopper(child) })
    })
    child.once('exit', code => { if (!found) reject(new Error(`${name} exited (${String(code)}) before listening:\n${log}`)) })
    child.once('error', reject)
  })
}

/** A port nobody listens on right now. */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = a !== null && typeof a !== 'string' ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on host:port. */
export async function waitForPort (host: string, port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening`)
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port} within 10 s`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** `redis-server --port P --save '' --appendonly no` on a free loopback port. */
export async function startRedis (): Promise<BenchServer> {
  const host = '127.0.0.1'
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  child.once('error', () => {})
  await waitForPort(host, port, child, 'redis-server')
  return { name: 'redis', host, port, pid: child.pid as number, stop: stopper(child) }
}

/** `redis-server --version`, short. */
export function redisVersion (): string {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? ''
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown'
}
