import { writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import minimist from 'minimist'
import { RespClient } from '../lib/client/resp-client.js'
import { runCatchup } from './catchup.js'
import { canMeasureCpu, cpuMicros } from './cpu.js'
import { runDurability } from './durability.js'
import { int, ratio } from './format.js'
import { runPipeBench } from './pipe.js'
import { prefill, runLoad, TESTS, type Test } from './load.js'
import { runMemory } from './memory.js'
import { memoryBody } from './memory-report.js'
import { runBenchmark } from './redis-benchmark.js'
import { writeResults } from './results.js'
import { onPath, redisVersion, startFloor, startKeystone, startRedis, type BenchServer } from './servers.js'

// `npm run bench`: SET, GET, INCR, MULTI/INCR/EXEC, HSET and SADD, 50 clients, pipeline 1
// and 16, 100-byte values, random keys (fields, members) over a 100k keyspace, against
// Keystone and (when installed) Redis, interleaved so that both see the same machine
// load; then memory (bench/memory.ts): one hash of 1,000,000 fields, one set of
// 1,000,000 members and 1,000,000 string keys at each of three value sizes, INFO
// used_memory and RSS of each, loading times of the string keys, a bare-Node
// floor and a heap snapshot summary. Writes bench/RESULTS.md.

const USAGE = `Usage: npm run bench -- [options]

  --quick             a smoke run: few requests
  --requests N        requests per run (default: 200000 at pipeline 1, 500000 at 16)
  --repeat N          runs per test and server, interleaved; the median run is reported (default 3)
  --only T,T          these tests only, of set, get, incr, multi (MULTI / INCR / EXEC,
                      always driven by the Node load generator), hset (HSET myhash
                      element:N value) and sadd (SADD myset element:N)
  --memory            the memory section alone, each case in a fresh Keystone node and
                      redis-server: one hash of 1,000,000 fields, one set of 1,000,000
                      members (INFO used_memory and RSS); 1,000,000 string keys with
                      10-byte, 100-byte and 1 KB values, loaded from a file with
                      redis-cli --pipe (keystone-cli --pipe without redis-cli), fresh
                      then overwritten (used_memory, RSS, both loading times), beside a
                      bare Node process holding the same keys in a Map; and a heap
                      snapshot summary of a node holding --snapshot-keys keys
  --no-memory         skip the memory section (it follows the throughput tests by default)
  --no-cluster        skip the 3-node case (SET at one node replicating to two peers)
  --pipeline 1,16     pipeline depths (default 1,16)
  --load L            load generator: redis-benchmark (default when installed) or node
  --no-redis          Keystone alone, even when redis-server is installed
  --durability        instead: SET with a data directory, --fsync everysec and always, beside
                      Redis with appendonly yes; restart time of a 1,000,000-key node
                      (writes bench/RESULTS-durability.md; honours --quick, --repeat, --pipeline)
  --node-arg A        pass A to the node running Keystone (repeatable), e.g. --node-arg=--max-semi-space-size=32
  --cpu-prof DIR      run Keystone under node --cpu-prof, profiles written to DIR
                      (then: node dist/bench/profile.js DIR/FILE.cpuprofile); no memory section
  --catchup           instead: catch-up of a node that missed 1% of the store, against a
                      full resync of the same store (time and bytes); writes bench/CATCHUP.md
  --keys N            store size for --catchup, and items per memory case
                      (default 1000000; 100000 for the memory section with --quick)
  --snapshot-keys N   100-byte string keys in the node whose heap snapshot the memory
                      section sums by kind of object (default 100000; 0: no snapshot)
  --pipe              instead: bulk loading of a file of 1,000,000 SETs (RESP) with
                      keystone-cli --pipe and redis-cli --pipe into a Keystone node, and
                      redis-cli --pipe into Redis (writes bench/RESULTS-pipe.md; honours
                      --quick, --repeat, and --requests for the number of SETs)
  -h, --help          this text
`

const CLIENTS = 50
const VALUE_SIZE = 100
const KEYSPACE = 100_000
const ROOT = path.resolve(__dirname, '..', '..')

interface Measurement {
  opsPerSec: number
  /** In the 3-node case: the two peers' CPU (user + system), µs per request, together. */
  peersCpuMicrosPerOp?: number
  p50Ms: number
  p99Ms: number
  /** Server CPU (user + system), µs per request. */
  cpuMicrosPerOp: number
  /** The Node load generator's own CPU, µs per request; null for redis-benchmark. */
  loadCpuMicrosPerOp: number | null
}

interface Row {
  test: Test
  pipeline: number
  keystone: Measurement
  redis: Measurement | null
}

type Loader = 'redis-benchmark' | 'node'

async function measure (server: BenchServer, loader: Loader, test: Test, pipeline: number, requests: number): Promise<Measurement> {
  const o = { host: server.host, port: server.port, test, clients: CLIENTS, requests, pipeline, valueSize: VALUE_SIZE, keyspace: KEYSPACE }
  const cpuBefore = cpuMicros(server.pid)
  // redis-benchmark has no transaction test: MULTI/EXEC always comes from the Node load generator.
  const r = loader === 'redis-benchmark' && test !== 'multi' ? { ...await runBenchmark(o), loadCpuMicrosPerOp: null } : await runLoad(o)
  const cpu = cpuMicros(server.pid) - cpuBefore
  return {
    opsPerSec: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuMicrosPerOp: cpu / requests,
    loadCpuMicrosPerOp: r.loadCpuMicrosPerOp
  }
}

/**
 * The median run: with Redis, the keystone/redis pair with the median ratio
 * (the two ran back to back, so they saw the same machine); alone, the run with
 * the median throughput. Whole runs, so the figures in a row belong together.
 */
function medianRow (ks: Measurement[], rs: Measurement[]): { keystone: Measurement, redis: Measurement | null } {
  const pairs = ks.map((k, i) => ({ keystone: k, redis: rs[i] ?? null }))
  const score = (p: typeof pairs[number]): number => p.redis === null ? p.keystone.opsPerSec : p.keystone.opsPerSec / p.redis.opsPerSec
  pairs.sort((a, b) => score(a) - score(b))
  return pairs[Math.floor((pairs.length - 1) / 2)] as typeof pairs[number]
}

const ms = (m: Measurement): string => `${m.p50Ms.toFixed(2)} / ${m.p99Ms.toFixed(2)}`

function table (rows: Row[]): string {
  const withRedis = rows.some(r => r.redis !== null)
  const nodeLoad = rows.some(r => r.keystone.loadCpuMicrosPerOp !== null)
  const lines: string[] = []
  if (withRedis) {
    lines.push('| test | keystone ops/s | redis ops/s | ratio | keystone p50/p99 ms | redis p50/p99 ms | keystone CPU µs/op | redis CPU µs/op | CPU ratio |')
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const { test, pipeline, keystone: k, redis: r } of rows) {
      if (r === null) continue
      lines.push(`| ${test.toUpperCase()} P${pipeline} | ${int(k.opsPerSec)} | ${int(r.opsPerSec)} | ${ratio(k.opsPerSec, r.opsPerSec)} | ${ms(k)} | ${ms(r)} | ${k.cpuMicrosPerOp.toFixed(1)} | ${r.cpuMicrosPerOp.toFixed(1)} | ${ratio(k.cpuMicrosPerOp, r.cpuMicrosPerOp)} |`)
    }
  } else {
    lines.push(`| test | keystone ops/s | keystone p50/p99 ms | keystone CPU µs/op |${nodeLoad ? ' load generator CPU µs/op |' : ''}`)
    lines.push(`|---|---:|---:|---:|${nodeLoad ? '---:|' : ''}`)
    for (const { test, pipeline, keystone: k } of rows) {
      const load = k.loadCpuMicrosPerOp === null ? '' : ` ${k.loadCpuMicrosPerOp.toFixed(1)} |`
      lines.push(`| ${test.toUpperCase()} P${pipeline} | ${int(k.opsPerSec)} | ${ms(k)} | ${k.cpuMicrosPerOp.toFixed(1)} |${load}`)
    }
  }
  return lines.join('\n')
}

/** The 3-node figures beside the single-node ones of the same run. */
function clusterTable (cluster: Row[], single: Row[]): string {
  const lines = [
    '| 3 nodes: SET at one node, replicated to 2 | ops/s | p50/p99 ms | single node ops/s | ratio to single node | CPU µs/op (writing node) | CPU µs/op (both peers) |',
    '|---|---:|---:|---:|---:|---:|---:|'
  ]
  for (const { pipeline, keystone: k } of cluster) {
    const alone = single.find(r => r.test === 'set' && r.pipeline === pipeline)?.keystone
    lines.push(`| SET P${pipeline} | ${int(k.opsPerSec)} | ${ms(k)} | ${alone === undefined ? '—' : int(alone.opsPerSec)} | ${alone === undefined ? '—' : ratio(k.opsPerSec, alone.opsPerSec)} | ${k.cpuMicrosPerOp.toFixed(1)} | ${k.peersCpuMicrosPerOp?.toFixed(1) ?? '—'} |`)
  }
  return lines.join('\n')
}

/** A P16 test on bench/floor-server.ts: the median of its runs, beside that test's row. */
interface FloorRow { row: Row, floor: Measurement }

const FLOOR_NOTE = 'The floor is bench/floor-server.ts: Node.js framing each RESP request and answering `:1`, with no command table, store or bookkeeping, under the same load (no prefill, for it keeps nothing), measured after the rows above (so its ratio to Redis mixes two moments of the machine). An estimate of what a server on Node\'s event loop and sockets can do under this load, not a bound: Keystone is that and its own work besides, and the last column is how many times the floor\'s cost per request Keystone\'s is.'

/**
 * The floor for each P16 test but MULTI (whose load checks replies): `repeat`
 * runs, the median by throughput, against the row's Redis figures.
 */
async function floor (rows: Row[], o: ThroughputOptions, servers: BenchServer[]): Promise<FloorRow[]> {
  const server = await startFloor()
  servers.push(server)
  const out: FloorRow[] = []
  for (const row of rows) {
    if (row.pipeline !== 16 || row.test === 'multi' || row.redis === null) continue
    const requests = o.requestsFor(16)
    await measure(server, o.loader, row.test, 16, Math.ceil(requests / 5))
    const runs: Measurement[] = []
    for (let i = 0; i < o.repeat; i++) runs.push(await measure(server, o.loader, row.test, 16, requests))
    const median = medianRow(runs, []).keystone
    process.stderr.write(`floor ${row.test.toUpperCase()} P16: ${int(median.opsPerSec)} ops/s\n`)
    out.push({ row, floor: median })
  }
  return out
}

function floorTable (rows: FloorRow[]): string {
  const lines = [
    '| test | floor ops/s | floor CPU µs/op | floor ratio to redis | keystone ratio to redis | keystone CPU ratio to floor |',
    '|---|---:|---:|---:|---:|---:|'
  ]
  for (const { row, floor: f } of rows) {
    const r = row.redis as Measurement
    lines.push(`| ${row.test.toUpperCase()} P16 | ${int(f.opsPerSec)} | ${f.cpuMicrosPerOp.toFixed(1)} | ${ratio(f.opsPerSec, r.opsPerSec)} | ${ratio(row.keystone.opsPerSec, r.opsPerSec)} | ${ratio(row.keystone.cpuMicrosPerOp, f.cpuMicrosPerOp)} |`)
  }
  return lines.join('\n')
}

/** Waits until MEMBERS at `node` lists `count` nodes, all up. */
async function waitClusterUp (node: BenchServer, count: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const client = await RespClient.connect({ host: node.host, port: node.port })
    const reply = await client.call(['MEMBERS']).finally(() => client.close())
    const states = Array.isArray(reply) ? reply.map(line => String(line).split(' ')[1]) : []
    if (states.length === count && states.every(s => s === 'up')) return
    if (Date.now() > deadline) throw new Error(`the 3-node cluster did not come up: ${JSON.stringify(states)}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** The issues' targets: P16 ops/s ratio ≥ 0.5; P1 CPU per op ≤ 1.3× Redis's (not set for HSET and SADD, issue 13). */
function targets (rows: Row[]): string[] {
  const out: string[] = []
  for (const { test, pipeline, keystone: k, redis: r } of rows) {
    if (r === null) continue
    const name = `${test.toUpperCase()} P${pipeline}`
    if (pipeline === 16) {
      const x = k.opsPerSec / r.opsPerSec
      out.push(`- ${name}: ops/s ratio ${x.toFixed(2)} (target ≥ 0.5): ${x >= 0.5 ? 'met' : 'NOT met'}`)
    }
    if (pipeline === 1 && test !== 'hset' && test !== 'sadd') {
      const x = k.cpuMicrosPerOp / r.cpuMicrosPerOp
      out.push(`- ${name}: CPU per op ratio ${x.toFixed(2)} (target ≤ 1.3): ${x <= 1.3 ? 'met' : 'NOT met'}`)
    }
  }
  return out
}

interface ThroughputOptions {
  tests: Test[]
  pipelines: number[]
  requestsFor: (pipeline: number) => number
  repeat: number
  quick: boolean
  loader: Loader
  withRedis: boolean
  cluster: boolean
  nodeArgs: string[]
  cpuProf: string | undefined
}

/** The throughput tests; returns the part of RESULTS.md they make (tables, targets, how they were run). */
async function throughput (o: ThroughputOptions, notes: string[], command: string): Promise<string> {
  const { tests, pipelines, requestsFor, repeat, loader } = o
  const servers: BenchServer[] = []
  try {
    const keystone = await startKeystone([...o.nodeArgs, ...(o.cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.cpuProf)])])
    servers.push(keystone)
    const redis = o.withRedis ? await startRedis() : null
    if (redis !== null) servers.push(redis)
    process.stderr.write(`keystone on ${keystone.host}:${keystone.port} (pid ${keystone.pid})${redis === null ? '' : `, redis ${redisVersion()} on ${redis.host}:${redis.port} (pid ${redis.pid})`}, load: ${loader}\n`)

    for (const s of servers) {
      process.stderr.write(`prefilling ${s.name}: ${KEYSPACE} keys\n`)
      await prefill(s.host, s.port, KEYSPACE, VALUE_SIZE)
      // HSET and SADD then find the whole hash or set on every server from the first request.
      for (const t of ['hset', 'sadd'] as const) if (tests.includes(t)) await prefill(s.host, s.port, KEYSPACE, VALUE_SIZE, t)
    }
    // Let the JIT settle before measuring (Redis needs none, and gets none).
    process.stderr.write('warming up keystone\n')
    for (const test of tests) await measure(keystone, loader, test, 16, o.quick ? 20_000 : 200_000)

    const rows: Row[] = []
    for (const pipeline of pipelines) {
      for (const test of tests) {
        const requests = requestsFor(pipeline)
        const ks: Measurement[] = []
        const rs: Measurement[] = []
        // An unmeasured run of this very load first: the previous test's garbage is
        // collected and the JIT has seen this pattern before the clock starts.
        for (const s of servers) await measure(s, loader, test, pipeline, Math.ceil(requests / 5))
        for (let i = 0; i < repeat; i++) {
          process.stderr.write(`${test.toUpperCase()} P${pipeline}, ${requests} requests, run ${i + 1}/${repeat}: keystone`)
          const k = await measure(keystone, loader, test, pipeline, requests)
          ks.push(k)
          process.stderr.write(` ${int(k.opsPerSec)} ops/s`)
          const r = redis === null ? null : await measure(redis, loader, test, pipeline, requests)
          if (r !== null) rs.push(r)
          process.stderr.write(r === null ? '\n' : `, redis ${int(r.opsPerSec)} ops/s, ratio ${ratio(k.opsPerSec, r.opsPerSec)}\n`)
        }
        rows.push({ test, pipeline, ...medianRow(ks, rs) })
      }
    }

    const floorRows = redis !== null && loader === 'redis-benchmark' && pipelines.includes(16) ? await floor(rows, o, servers) : []

    const clusterRows: Row[] = []
    if (o.cluster && tests.includes('set')) {
      // The 3-node case: the same SET load at one node that replicates every write
      // to two peers and answers once both have it (CONTRACT G1).
      process.stderr.write('starting two more keystone nodes joined to the first\n')
      const peers: BenchServer[] = []
      for (let i = 0; i < 2; i++) peers.push(await startKeystone(o.nodeArgs, ['--join', `${keystone.host}:${keystone.port}`]))
      servers.push(...peers)
      await waitClusterUp(keystone, 3)
      for (const pipeline of pipelines) {
        const requests = requestsFor(pipeline)
        await measure(keystone, loader, 'set', pipeline, Math.ceil(requests / 5))
        const runs: Measurement[] = []
        for (let i = 0; i < repeat; i++) {
          const peersBefore = peers.reduce((sum, p) => sum + cpuMicros(p.pid), 0)
          const m = await measure(keystone, loader, 'set', pipeline, requests)
          m.peersCpuMicrosPerOp = (peers.reduce((sum, p) => sum + cpuMicros(p.pid), 0) - peersBefore) / requests
          runs.push(m)
          process.stderr.write(`3-node SET P${pipeline}, run ${i + 1}/${repeat}: ${int(runs[runs.length - 1]?.opsPerSec ?? 0)} ops/s\n`)
        }
        clusterRows.push({ test: 'set', pipeline, ...medianRow(runs, []) })
      }
    }

    const collections = tests.filter(t => t === 'hset' || t === 'sadd')
    return [
      table(rows),
      '',
      ...(floorRows.length > 0 ? [floorTable(floorRows), '', FLOOR_NOTE, ''] : []),
      ...(clusterRows.length > 0 ? [clusterTable(clusterRows, rows), ''] : []),
      ...targets(rows),
      ...(notes.length > 0 ? ['', ...notes.map(n => `Note: ${n}`)] : []),
      '',
      `${CLIENTS} clients, ${VALUE_SIZE}-byte values, random keys over ${KEYSPACE.toLocaleString('en-US')} keys (prefilled)` +
        (collections.length > 0 ? `; ${collections.map(t => t === 'hset' ? 'HSET of random fields `element:N` of one hash, `myhash`' : 'SADD of random members `element:N` to one set, `myset`').join(', ')}, N over ${KEYSPACE.toLocaleString('en-US')} (prefilled: every request overwrites a field or re-adds a member)` : '') +
        `; load by ${loader}; ` +
        (o.withRedis
          ? `${repeat} run(s) per test and server, interleaved keystone/redis; the row is the run with the median ratio. `
          : `${repeat} run(s) per test; the row is the run with the median throughput. `) +
        'Server CPU is utime+stime of the server process from /proc/<pid>/stat (10 ms ticks), divided by requests.',
      '',
      `Reproduce: \`${command}\``
    ].join('\n')
  } finally {
    for (const s of servers) await s.stop()
  }
}

async function main (): Promise<void> {
  const argv = minimist(process.argv.slice(2), {
    string: ['requests', 'only', 'pipeline', 'load', 'cpu-prof', 'repeat', 'node-arg', 'keys', 'snapshot-keys'],
    boolean: ['quick', 'redis', 'help', 'cluster', 'durability', 'catchup', 'pipe', 'memory'],
    // memory: null when neither --memory (alone) nor --no-memory (skip) is given.
    default: { redis: true, cluster: true, memory: null },
    alias: { h: 'help' }
  })
  if (argv.help === true) {
    process.stdout.write(USAGE)
    return
  }
  const quick = argv.quick === true
  const keysFlag = (fallback: number): number => {
    const keys = argv.keys === undefined ? fallback : Number(argv.keys)
    if (!Number.isSafeInteger(keys) || keys < 100) throw new TypeError(`--keys must be an integer of at least 100, got '${String(argv.keys)}'`)
    return keys
  }
  if (argv.catchup === true) {
    const table = await runCatchup(keysFlag(1_000_000))
    const cpus = os.cpus()
    const command = ['npm run bench', '--', ...process.argv.slice(2)].join(' ')
    const text = [
      '# Keystone catch-up benchmark',
      '',
      `${new Date().toISOString()} · node ${process.version} · ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}) · load average at start ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`,
      '',
      table,
      '',
      `Reproduce: \`${command}\``,
      ''
    ].join('\n')
    process.stdout.write(`\n${table}\n\n`)
    writeFileSync(path.join(ROOT, 'bench', 'CATCHUP.md'), text)
    process.stderr.write('written to bench/CATCHUP.md\n')
    return
  }
  const only = argv.only === undefined ? null : String(argv.only).split(',').map(t => t.trim().toLowerCase())
  if (only !== null && (only.length === 0 || only.some(t => !(TESTS as readonly string[]).includes(t)))) {
    throw new TypeError(`--only must be a comma-separated list of ${TESTS.join(', ')}, got '${String(argv.only)}'`)
  }
  const tests: Test[] = only === null ? [...TESTS] : TESTS.filter(t => only.includes(t))
  const pipelines = String(argv.pipeline ?? '1,16').split(',').map(Number)
  if (pipelines.some(p => !Number.isSafeInteger(p) || p < 1)) throw new TypeError(`--pipeline must be a list of positive integers, got '${String(argv.pipeline)}'`)
  const fixed = argv.requests === undefined ? null : Number(argv.requests)
  if (fixed !== null && (!Number.isSafeInteger(fixed) || fixed < 1)) throw new TypeError(`--requests must be a positive integer, got '${String(argv.requests)}'`)
  const requestsFor = (pipeline: number): number => fixed ?? (quick ? 20_000 : 200_000) * (pipeline > 1 ? 2.5 : 1)
  const repeat = argv.repeat === undefined ? (quick ? 1 : 3) : Number(argv.repeat)
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new TypeError(`--repeat must be a positive integer, got '${String(argv.repeat)}'`)

  if (!canMeasureCpu()) throw new Error('server CPU is read from /proc/<pid>/stat, which this system does not have')
  if (argv.durability === true) {
    await runDurability({ quick, repeat, pipelines })
    return
  }
  if (argv.pipe === true) {
    await runPipeBench({ quick, repeat, commands: fixed ?? undefined })
    return
  }
  const cpuProf = argv['cpu-prof'] as string | undefined
  // --memory: that section alone; --no-memory, or a profiled run: none.
  const memoryOnly = argv.memory === true
  const withMemory = memoryOnly || (argv.memory !== false && cpuProf === undefined)
  const memoryItems = withMemory ? keysFlag(quick ? 100_000 : 1_000_000) : 0
  const snapshotKeys = argv['snapshot-keys'] === undefined ? 100_000 : Number(argv['snapshot-keys'])
  if (!Number.isSafeInteger(snapshotKeys) || snapshotKeys < 0) throw new TypeError(`--snapshot-keys must be a whole number, got '${String(argv['snapshot-keys'])}'`)
  const haveBenchmark = onPath('redis-benchmark')
  const loader: Loader = (argv.load as Loader | undefined) ?? (haveBenchmark ? 'redis-benchmark' : 'node')
  if (loader !== 'node' && loader !== 'redis-benchmark') throw new TypeError(`--load must be redis-benchmark or node, got '${String(loader)}'`)
  if (!memoryOnly && loader === 'redis-benchmark' && !haveBenchmark) throw new Error('redis-benchmark is not on PATH (Debian: apt-get install redis-tools)')
  const withRedis = argv.redis === true && onPath('redis-server')
  const notes: string[] = []
  if (argv.redis === true && (!haveBenchmark || !onPath('redis-server'))) {
    notes.push('redis-server / redis-benchmark not found: install them (Debian: `apt-get install redis-server redis-tools`) to compare with Redis using the same load generator.')
  }
  if (loader === 'node') {
    notes.push(`Load generated in Node (bench/load.ts) in the benchmark process; it shares the machine's ${os.cpus().length} cores with the server and its own CPU per op is shown.`)
  }

  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')
  const cpus = os.cpus()
  const machine = `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${os.platform()} ${os.release()}`
  const loadAverage = (): string => os.loadavg().map(l => l.toFixed(2)).join(' ')
  const stamp = (loadAtStart: string): string =>
    `${new Date().toISOString()} · node ${process.version} · ${machine}${withRedis ? ` · redis ${redisVersion()}` : ''} · load average at start ${loadAtStart}`
  const nodeArgs = ([] as unknown[]).concat(argv['node-arg'] ?? []).map(String)

  const parts: { throughput?: string, memory?: string } = {}
  if (!memoryOnly) {
    const loadAtStart = loadAverage()
    const body = await throughput({ tests, pipelines, requestsFor, repeat, quick, loader, withRedis, cluster: argv.cluster === true, nodeArgs, cpuProf }, notes, command)
    process.stdout.write(`\n${body}\n\n`)
    parts.throughput = ['## Throughput', '', stamp(loadAtStart), '', body].join('\n')
  }
  if (withMemory) {
    const loadAtStart = loadAverage()
    const result = await runMemory({ items: memoryItems, snapshotKeys, withRedis, nodeArgs })
    const missing = argv.redis === true && !withRedis
      ? ['redis-server not found, so Keystone is shown alone: install it (Debian: `apt-get install redis-server redis-tools`) to compare with Redis.']
      : []
    const body = [
      memoryBody(result, [...missing, ...result.notes]),
      '',
      `Reproduce: \`${command}\``
    ].join('\n')
    process.stdout.write(`\n${body}\n\n`)
    parts.memory = ['## Memory', '', stamp(loadAtStart), '', body].join('\n')
  }
  if (cpuProf === undefined) {
    writeResults(path.join(ROOT, 'bench', 'RESULTS.md'), parts)
    process.stderr.write('written to bench/RESULTS.md\n')
  } else {
    process.stderr.write(`profiled run, bench/RESULTS.md left as it was; profiles in ${cpuProf} (summarise with node dist/bench/profile.js FILE)\n`)
  }
}

main().catch(err => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
