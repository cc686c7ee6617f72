import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RespClient } from '../lib/client/resp-client.js'
import { RespError } from '../lib/protocol/reply-parser.js'
import { cpuMicros } from './cpu.js'
import { int } from './format.js'
import { prefill } from './load.js'
import { runBenchmark } from './redis-benchmark.js'
import { freePort, onPath, redisVersion, startKeystone, waitForPort, type BenchServer } from './servers.js'

// `npm run bench -- --durability`: SET throughput with a data directory, --fsync
// everysec and always, beside Redis with appendonly yes and the same appendfsync,
// interleaved in one run; then how long a node with 1,000,000 keys takes to
// serve again after kill -9. Writes bench/RESULTS-durability.md.

const CLIENTS = 50
const VALUE_SIZE = 100
const KEYSPACE = 100_000
const RESTART_KEYS = 1_000_000
const ROOT = path.resolve(__dirname, '..', '..')

export interface DurabilityOptions {
  quick: boolean
  repeat: number
  pipelines: number[]
}

interface Run { opsPerSec: number, p50Ms: number, p99Ms: number, cpuMicrosPerOp: number }

async function startRedisAof (fsync: string, dir: string): Promise<BenchServer> {
  const host = '127.0.0.1'
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--dir', dir], { stdio: 'ignore' })
  child.once('error', () => {})
  await waitForPort(host, port, child, 'redis-server')
  return {
    name: 'redis',
    host,
    port,
    pid: child.pid as number,
    stop: () => new Promise(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })
  }
}

async function measure (s: BenchServer, pipeline: number, requests: number): Promise<Run> {
  const before = cpuMicros(s.pid)
  const r = await runBenchmark({ host: s.host, port: s.port, test: 'set', clients: CLIENTS, requests, pipeline, valueSize: VALUE_SIZE, keyspace: KEYSPACE })
  return { ...r, cpuMicrosPerOp: (cpuMicros(s.pid) - before) / requests }
}

/** Polls until the server answers GET of a prefilled key with a value (Redis says LOADING until then). */
async function serving (host: string, port: number, started: number, deadlineMs = 120_000): Promise<number> {
  for (;;) {
    try {
      const c = await RespClient.connect({ host, port, connectTimeoutMs: 1000 })
      try {
        const reply = await c.call(['GET', 'key:000000000001'])
        if (Buffer.isBuffer(reply)) return Date.now() - started
        if (!(reply instanceof RespError)) throw new Error(`GET after restart: ${String(reply)}`)
      } finally {
        c.close()
      }
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('GET after restart')) throw err
    }
    if (Date.now() - started > deadlineMs) throw new Error(`not serving within ${deadlineMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

interface Restarts {
  /** Filled with the default settings (compactions on the way), killed, restarted. */
  defaults: number
  /** Right after a compaction: snapshot and an empty log. */
  snapshot: number
  /** Never compacted: the whole log replayed (keystone with --compact-percentage 0). */
  logOnly: number | null
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number

/** Starts a server, kills it with -9 once `keys` keys are in, restarts it `repeat` times; the median time to serve. */
async function timeRestarts (start: () => Promise<BenchServer>, keys: number, repeat: number, prepare?: (s: BenchServer) => Promise<void>): Promise<number> {
  let server = await start()
  await serving(server.host, server.port, Date.now())
  const c = await RespClient.connect({ host: server.host, port: server.port })
  const size = await c.call(['DBSIZE'])
  c.close()
  if (size !== keys) throw new Error(`DBSIZE ${String(size)} before the restart, ${keys} expected`)
  if (prepare !== undefined) await prepare(server)
  const times: number[] = []
  for (let i = 0; i < repeat; i++) {
    await server.stop() // SIGKILL
    const started = Date.now()
    server = await start()
    times.push(await serving(server.host, server.port, started))
  }
  await server.stop()
  return median(times)
}

async function compactNow (s: BenchServer): Promise<void> {
  const c = await RespClient.connect({ host: s.host, port: s.port })
  await c.call(['BGREWRITEAOF'])
  await new Promise(resolve => setTimeout(resolve, 200))
  while (!String(await c.call(['INFO', 'persistence'])).includes('aof_rewrite_in_progress:0')) await new Promise(resolve => setTimeout(resolve, 50))
  c.close()
}

/** A keystone child killed with SIGKILL by stop(). */
async function keystoneOn (dir: string, port: number, extra: string[] = []): Promise<BenchServer> {
  const s = await startKeystone([], ['--port', String(port), '--data-dir', dir, ...extra])
  return { ...s, stop: async () => { process.kill(s.pid, 'SIGKILL'); await s.stop() } }
}

async function keystoneRestart (keys: number, repeat: number): Promise<Restarts> {
  const dirs = [mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-')), mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-'))]
  try {
    const port = await freePort()
    const a = dirs[0] as string
    const filled = await keystoneOn(a, port)
    await prefill(filled.host, filled.port, keys, VALUE_SIZE)
    await filled.stop()
    const defaults = await timeRestarts(() => keystoneOn(a, port), keys, repeat)
    const snapshot = await timeRestarts(() => keystoneOn(a, port), keys, repeat, compactNow)
    const b = dirs[1] as string
    const logged = await keystoneOn(b, port, ['--compact-percentage', '0'])
    await prefill(logged.host, logged.port, keys, VALUE_SIZE)
    await logged.stop()
    const logOnly = await timeRestarts(() => keystoneOn(b, port, ['--compact-percentage', '0']), keys, repeat)
    return { defaults, snapshot, logOnly }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

/** Redis with appendonly yes and its default auto-rewrite (64 MB, 100%): the same restarts. */
async function redisRestart (keys: number, repeat: number): Promise<Restarts> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-bench-'))
  try {
    const filled = await startRedisAof('everysec', dir)
    await prefill(filled.host, filled.port, keys, VALUE_SIZE)
    await new Promise(resolve => setTimeout(resolve, 1100)) // everysec: let the last second reach the file
    await filled.stop()
    const defaults = await timeRestarts(() => startRedisAof('everysec', dir), keys, repeat)
    const snapshot = await timeRestarts(() => startRedisAof('everysec', dir), keys, repeat, compactNow)
    return { defaults, snapshot, logOnly: null }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function runDurability (o: DurabilityOptions): Promise<void> {
  if (!onPath('redis-benchmark')) throw new Error('the durability benchmark drives redis-benchmark (Debian: apt-get install redis-tools)')
  const withRedis = onPath('redis-server')
  const requestsFor = (pipeline: number): number => (o.quick ? 20_000 : 200_000) * (pipeline > 1 ? 2.5 : 1)
  const lines: string[] = [
    '| SET, data on disk | keystone ops/s | redis (appendonly yes) ops/s | ratio | keystone p50/p99 ms | redis p50/p99 ms | keystone CPU µs/op | redis CPU µs/op |',
    '|---|---:|---:|---:|---:|---:|---:|---:|'
  ]
  const targets: string[] = []
  for (const fsync of ['everysec', 'always']) {
    const dirs = [mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-')), mkdtempSync(path.join(os.tmpdir(), 'redis-bench-'))]
    const servers: BenchServer[] = []
    try {
      const keystone = await startKeystone([], ['--data-dir', dirs[0] as string, '--fsync', fsync])
      servers.push(keystone)
      const redis = withRedis ? await startRedisAof(fsync, dirs[1] as string) : null
      if (redis !== null) servers.push(redis)
      for (const s of servers) await prefill(s.host, s.port, KEYSPACE, VALUE_SIZE)
      await measure(keystone, 16, o.quick ? 20_000 : 200_000) // JIT warm-up
      for (const pipeline of o.pipelines) {
        const requests = requestsFor(pipeline)
        const pairs: Array<{ k: Run, r: Run | null }> = []
        for (let i = 0; i < o.repeat; i++) {
          const k = await measure(keystone, pipeline, requests)
          const r = redis === null ? null : await measure(redis, pipeline, requests)
          process.stderr.write(`--fsync ${fsync} SET P${pipeline} run ${i + 1}/${o.repeat}: keystone ${int(k.opsPerSec)} ops/s${r === null ? '' : `, redis ${int(r.opsPerSec)} ops/s`}\n`)
          pairs.push({ k, r })
        }
        const score = (p: { k: Run, r: Run | null }): number => p.r === null ? p.k.opsPerSec : p.k.opsPerSec / p.r.opsPerSec
        pairs.sort((a, b) => score(a) - score(b))
        const { k, r } = pairs[Math.floor((pairs.length - 1) / 2)] as { k: Run, r: Run | null }
        const ratio = r === null ? null : k.opsPerSec / r.opsPerSec
        lines.push(`| ${fsync} P${pipeline} | ${int(k.opsPerSec)} | ${r === null ? '—' : int(r.opsPerSec)} | ${ratio === null ? '—' : ratio.toFixed(2)} | ${k.p50Ms.toFixed(2)} / ${k.p99Ms.toFixed(2)} | ${r === null ? '—' : `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)}`} | ${k.cpuMicrosPerOp.toFixed(1)} | ${r === null ? '—' : r.cpuMicrosPerOp.toFixed(1)} |`)
        if (fsync === 'everysec' && ratio !== null) targets.push(`- everysec SET P${pipeline}: ${ratio.toFixed(2)} of Redis AOF everysec (target ≥ 0.5): ${ratio >= 0.5 ? 'met' : 'NOT met'}`)
      }
    } finally {
      for (const s of servers) await s.stop()
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
  }

  const keys = o.quick ? 100_000 : RESTART_KEYS
  process.stderr.write(`restart: ${int(keys)} keys into keystone\n`)
  const restartRepeat = o.quick ? 1 : 3
  const ks = await keystoneRestart(keys, restartRepeat)
  process.stderr.write(`keystone: serving ${ks.defaults} ms after a restart (default settings), ${ks.snapshot} ms right after a compaction, ${String(ks.logOnly)} ms from the log alone\n`)
  const rs = withRedis ? await redisRestart(keys, restartRepeat) : null
  if (rs !== null) process.stderr.write(`redis: serving ${rs.defaults} ms after a restart (default auto-rewrite), ${rs.snapshot} ms right after BGREWRITEAOF\n`)
  const cell = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : int(n))
  const restartLines = [
    `| restart after kill -9, ${int(keys)} keys of ${VALUE_SIZE} bytes, ms to the first GET served | keystone | redis |`,
    '|---|---:|---:|',
    `| filled with the default settings (keystone: snapshot + log as compaction left them; redis: auto-aof-rewrite 64 MB / 100 %) | ${cell(ks.defaults)} | ${cell(rs?.defaults)} |`,
    `| right after a compaction (keystone: snapshot + empty log; redis: BGREWRITEAOF, RDB preamble) | ${cell(ks.snapshot)} | ${cell(rs?.snapshot)} |`,
    `| never compacted (keystone --compact-percentage 0: the whole log replayed) | ${cell(ks.logOnly)} | — |`
  ]
  if (!o.quick) targets.push(`- 1,000,000-key node serving again ${int(ks.defaults)} ms after a restart with the default settings, ${int(ks.snapshot)} ms right after a compaction (target ≤ 5,000 ms): ${ks.defaults <= 5000 ? 'met' : 'NOT met'}`)

  const cpus = os.cpus()
  const body = [
    lines.join('\n'),
    '',
    restartLines.join('\n'),
    '',
    ...targets,
    '',
    `${CLIENTS} clients, ${VALUE_SIZE}-byte values, random keys over ${int(KEYSPACE)} (prefilled), load by redis-benchmark; ${o.repeat} run(s) per row, keystone and redis interleaved, the row is the run with the median ratio. ` +
      `Each server has its own data directory on the same disk. Restart time: from spawning the server to its first GET answered with a value (Redis answers LOADING until it has loaded); the median of ${restartRepeat} restarts.`,
    '',
    `Reproduce: \`npm run bench -- --durability${o.quick ? ' --quick' : ''}\``
  ].join('\n')
  process.stdout.write(`\n${body}\n\n`)
  writeFileSync(path.join(ROOT, 'bench', 'RESULTS-durability.md'), [
    '# Keystone durability benchmark results',
    '',
    `${new Date().toISOString()} · node ${process.version} · ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${os.platform()} ${os.release()}` +
      `${withRedis ? ` · redis ${redisVersion()}` : ''} · load average at start ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`,
    '',
    body,
    ''
  ].join('\n'))
  process.stderr.write('written to bench/RESULTS-durability.md\n')
}
