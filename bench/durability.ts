import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RespClient } from '../lib/client/resp-client.js'
import { RespError } from '../lib/protocol/reply-parser.js'
import { cpuMicros } from './cpu.js'
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

/** Keystone: fill, kill -9, restart from the log; then compact, kill -9, restart from the snapshot. */
async function keystoneRestart (keys: number): Promise<{ fromLog: number, fromSnapshot: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-'))
  try {
    const port = await freePort()
    const args = ['--port', String(port), '--data-dir', dir, '--compact-percentage', '0']
    let node = await startKeystone([], args)
    await prefill(node.host, node.port, keys, VALUE_SIZE)
    process.kill(node.pid, 'SIGKILL')
    await node.stop()
    let started = Date.now()
    node = await startKeystone([], args)
    const fromLog = await serving(node.host, node.port, started)
    const c = await RespClient.connect({ host: node.host, port: node.port })
    const size = await c.call(['DBSIZE'])
    if (size !== keys) throw new Error(`DBSIZE ${String(size)} after restart, ${keys} expected`)
    await c.call(['BGREWRITEAOF'])
    while (!String(await c.call(['INFO', 'persistence'])).includes('aof_rewrite_in_progress:0')) await new Promise(resolve => setTimeout(resolve, 50))
    c.close()
    process.kill(node.pid, 'SIGKILL')
    await node.stop()
    started = Date.now()
    node = await startKeystone([], args)
    const fromSnapshot = await serving(node.host, node.port, started)
    await node.stop()
    return { fromLog, fromSnapshot }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Redis with appendonly yes (an RDB preamble after BGREWRITEAOF): the same two restarts. */
async function redisRestart (keys: number): Promise<{ fromLog: number, fromSnapshot: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-bench-'))
  try {
    let r = await startRedisAof('everysec', dir)
    await prefill(r.host, r.port, keys, VALUE_SIZE)
    await new Promise(resolve => setTimeout(resolve, 1100)) // everysec: let the last second reach the file
    await r.stop()
    const restart = async (): Promise<number> => {
      const started = Date.now()
      const next = await startRedisAof('everysec', dir)
      r = next
      return await serving(next.host, next.port, started)
    }
    const fromLog = await restart()
    const c = await RespClient.connect({ host: r.host, port: r.port })
    await c.call(['BGREWRITEAOF'])
    while (!String(await c.call(['INFO', 'persistence'])).includes('aof_rewrite_in_progress:0')) await new Promise(resolve => setTimeout(resolve, 50))
    c.close()
    await r.stop()
    const fromSnapshot = await restart()
    await r.stop()
    return { fromLog, fromSnapshot }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

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
  const ks = await keystoneRestart(keys)
  process.stderr.write(`keystone: serving ${ks.fromLog} ms after a restart from the log, ${ks.fromSnapshot} ms from the snapshot\n`)
  const rs = withRedis ? await redisRestart(keys) : null
  if (rs !== null) process.stderr.write(`redis: serving ${rs.fromLog} ms after a restart from the AOF, ${rs.fromSnapshot} ms after BGREWRITEAOF\n`)
  const restartLines = [
    `| restart after kill -9, ${int(keys)} keys of ${VALUE_SIZE} bytes | keystone ms | redis ms |`,
    '|---|---:|---:|',
    `| from the log alone | ${int(ks.fromLog)} | ${rs === null ? '—' : int(rs.fromLog)} |`,
    `| after a compaction (keystone: snapshot + empty log; redis: RDB-preamble AOF) | ${int(ks.fromSnapshot)} | ${rs === null ? '—' : int(rs.fromSnapshot)} |`
  ]
  const worst = Math.max(ks.fromLog, ks.fromSnapshot)
  if (!o.quick) targets.push(`- 1,000,000-key node serving again within ${int(worst)} ms of its restart (target ≤ 5,000 ms): ${worst <= 5000 ? 'met' : 'NOT met'}`)

  const cpus = os.cpus()
  const body = [
    lines.join('\n'),
    '',
    restartLines.join('\n'),
    '',
    ...targets,
    '',
    `${CLIENTS} clients, ${VALUE_SIZE}-byte values, random keys over ${int(KEYSPACE)} (prefilled), load by redis-benchmark; ${o.repeat} run(s) per row, keystone and redis interleaved, the row is the run with the median ratio. ` +
      'Each server has its own data directory on the same disk. Restart time: from spawning the server to its first GET answered with a value (Redis answers LOADING until it has loaded).',
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
