import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cpuMicros } from './cpu.js'
import { onPath, redisVersion, startKeystone, startRedis, type BenchServer } from './servers.js'

// `npm run bench -- --pipe`: bulk loading. A file of 1,000,000 SETs in RESP is
// loaded into a fresh Keystone node with `keystone-cli --pipe` and with
// `redis-cli --pipe`, and into a fresh Redis with `redis-cli --pipe` for
// reference; runs interleaved, medians reported. Writes bench/RESULTS-pipe.md.
// The issue's target: keystone-cli takes no longer than redis-cli into the same node.

const VALUE_SIZE = 100
const ROOT = path.resolve(__dirname, '..', '..')

export interface PipeBenchOptions {
  quick: boolean
  repeat: number
  /** SETs in the file; default 1,000,000 (100,000 with quick). */
  commands?: number
}

type Loader = 'keystone-cli' | 'redis-cli'

interface Run {
  seconds: number
  /** The server's CPU (user + system) over the load, seconds. */
  serverCpuSeconds: number
  /** The loader's own CPU (user + system), seconds. */
  clientCpuSeconds: number
}

/** `times` output (POSIX sh): the shell's user and system time, then its children's. */
function childrenCpu (text: string): number {
  const lines = text.trim().split('\n')
  const seconds = (lines[lines.length - 1] ?? '').match(/(\d+)m([\d.]+)s/g) ?? []
  return seconds.reduce((sum, t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)
    return sum + (m === null ? 0 : Number(m[1]) * 60 + Number(m[2]))
  }, 0)
}

/** `SET key:<i> <value>` × n as RESP arrays, written in 1 MB pieces. */
function writeInput (file: string, n: number): void {
  const fd = openSync(file, 'w')
  try {
    const value = 'v'.repeat(VALUE_SIZE - 8)
    let piece = ''
    for (let i = 0; i < n; i++) {
      const key = `key:${String(i).padStart(9, '0')}`
      const v = value + String(i).padStart(8, '0')
      piece += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${v.length}\r\n${v}\r\n`
      if (piece.length > 1 << 20) {
        writeSync(fd, piece, null, 'latin1')
        piece = ''
      }
    }
    writeSync(fd, piece, null, 'latin1')
  } finally {
    closeSync(fd)
  }
}

/**
 * Runs the loader with the file on stdin, under `sh` whose `times` gives the
 * loader's CPU; seconds from spawn to exit. Its summary must say every SET was
 * answered, without error.
 */
async function load (loader: Loader, server: BenchServer, file: string, n: number): Promise<Run> {
  const args = loader === 'keystone-cli'
    ? [process.execPath, path.join(ROOT, 'bin', 'keystone-cli'), '--pipe', `${server.host}:${server.port}`]
    : ['redis-cli', '-h', server.host, '-p', String(server.port), '--pipe']
  const fd = openSync(file, 'r')
  const cpuBefore = cpuMicros(server.pid)
  const started = process.hrtime.bigint()
  try {
    const { code, stdout, stderr, times } = await new Promise<{ code: number | null, stdout: string, stderr: string, times: string }>((resolve, reject) => {
      const child = spawn('sh', ['-c', '"$@"; s=$?; times >&3; exit $s', 'sh', ...args], { stdio: [fd, 'pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      let times = ''
      child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s })
      child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
      const fd3 = child.stdio[3]
      if (fd3 !== null && fd3 !== undefined && 'setEncoding' in fd3) fd3.setEncoding('utf8').on('data', (s: string) => { times += s })
      child.once('error', reject)
      child.once('close', code => resolve({ code, stdout, stderr, times }))
    })
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const expected = `errors: 0, replies: ${n}`
    if (code !== 0 || !stdout.includes(expected)) {
      throw new Error(`${loader} into ${server.name}: exit ${String(code)}, expected '${expected}':\n${stdout}${stderr.slice(0, 2000)}`)
    }
    return { seconds, serverCpuSeconds: (cpuMicros(server.pid) - cpuBefore) / 1e6, clientCpuSeconds: childrenCpu(times) }
  } finally {
    closeSync(fd)
  }
}

const median = (runs: Run[]): Run => [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)] as Run
const int = (n: number): string => Math.round(n).toLocaleString('en-US')

export async function runPipeBench (options: PipeBenchOptions): Promise<void> {
  const n = options.commands ?? (options.quick ? 100_000 : 1_000_000)
  const loadAtStart = os.loadavg()
  const haveRedisCli = onPath('redis-cli')
  const haveRedis = onPath('redis-server')
  const notes: string[] = []
  if (!haveRedisCli || !haveRedis) {
    notes.push('redis-cli / redis-server not found, so the comparison is missing: install them (Debian: `apt-get install redis-tools redis-server`; redis-cli is in redis-tools).')
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-pipe-'))
  try {
    const file = path.join(dir, 'sets.resp')
    process.stderr.write(`writing ${int(n)} SETs (RESP, ${VALUE_SIZE}-byte values) to ${file}\n`)
    writeInput(file, n)
    const bytes = statSync(file).size

    const cases: Array<{ loader: Loader, target: 'keystone' | 'redis' }> = [
      { loader: 'keystone-cli', target: 'keystone' },
      ...(haveRedisCli ? [{ loader: 'redis-cli' as const, target: 'keystone' as const }] : []),
      ...(haveRedisCli && haveRedis ? [{ loader: 'redis-cli' as const, target: 'redis' as const }] : [])
    ]
    const runs = new Map<string, Run[]>(cases.map(c => [`${c.loader}>${c.target}`, []]))
    // One unmeasured load first, so the file is in the page cache and Node's code is warm on disk.
    for (let i = -1; i < options.repeat; i++) {
      for (const c of cases) {
        // A fresh server per load: every run inserts n new keys.
        const server = c.target === 'keystone' ? await startKeystone() : await startRedis()
        try {
          const run = await load(c.loader, server, file, n)
          if (i < 0) continue
          runs.get(`${c.loader}>${c.target}`)?.push(run)
          process.stderr.write(`run ${i + 1}/${options.repeat}: ${c.loader} --pipe into ${c.target}: ${run.seconds.toFixed(2)} s\n`)
        } finally {
          await server.stop()
        }
      }
    }

    const rows = cases.map(c => ({ ...c, all: runs.get(`${c.loader}>${c.target}`) ?? [] }))
    const ks = rows.find(r => r.loader === 'keystone-cli')?.all ?? []
    const rcKs = rows.find(r => r.loader === 'redis-cli' && r.target === 'keystone')?.all ?? []
    // keystone-cli and redis-cli ran back to back in each round, so the ratio is taken per round.
    const ratios = ks.map((k, i) => rcKs[i] === undefined ? NaN : k.seconds / (rcKs[i] as Run).seconds).filter(x => !Number.isNaN(x)).sort((a, b) => a - b)
    const ratio = ratios[Math.floor((ratios.length - 1) / 2)]
    const lines = [
      '| load | seconds (median) | SETs/s | loader CPU s | server CPU s | every run, s |',
      '|---|---:|---:|---:|---:|---|'
    ]
    for (const { loader, target, all } of rows) {
      const run = median(all)
      lines.push(`| \`${loader} --pipe\` into ${target} | ${run.seconds.toFixed(2)} | ${int(n / run.seconds)} | ${run.clientCpuSeconds.toFixed(2)} | ${run.serverCpuSeconds.toFixed(2)} | ${all.map(r => r.seconds.toFixed(1)).join(', ')} |`)
    }
    const verdict = ratio !== undefined
      ? [`- keystone-cli --pipe / redis-cli --pipe into the same Keystone node, time: ${ratio.toFixed(2)} (median of the per-round ratios ${ratios.map(r => r.toFixed(2)).join(', ')}; target ≤ 1.00): ${ratio <= 1 ? 'met' : 'NOT met'}`]
      : []
    const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')
    const cpus = os.cpus()
    const machine = `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${os.platform()} ${os.release()}`
    const body = [
      lines.join('\n'),
      '',
      ...verdict,
      ...(notes.length > 0 ? ['', ...notes.map(t => `Note: ${t}`)] : []),
      '',
      `${int(n)} SETs of ${VALUE_SIZE}-byte values to distinct keys, as RESP (${(bytes / 1e6).toFixed(0)} MB), from a file on stdin; ` +
        `each load into a freshly started server (Keystone memory only; Redis --save '' --appendonly no); ` +
        `${options.repeat} run(s) per row, interleaved, the median shown. Seconds: from starting the loader to its exit, ` +
        'which is after the last reply. Loader CPU: user+system from `times` in the shell that ran it; server CPU: utime+stime from /proc/<pid>/stat.',
      '',
      `Reproduce: \`${command}\``
    ].join('\n')
    process.stdout.write(`\n${body}\n\n`)
    writeFileSync(path.join(ROOT, 'bench', 'RESULTS-pipe.md'), [
      '# Keystone bulk-loading benchmark results',
      '',
      `${new Date().toISOString()} · node ${process.version} · ${machine}${haveRedis ? ` · redis ${redisVersion()}` : ''} · load average at start ${loadAtStart.map(l => l.toFixed(2)).join(' ')}`,
      '',
      body,
      ''
    ].join('\n'))
    process.stderr.write('written to bench/RESULTS-pipe.md\n')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
