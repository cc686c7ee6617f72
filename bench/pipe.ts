import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { int } from './format.js'
import { load, writeInput, type Loader, type Run } from './pipe-load.js'
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

const median = (runs: Run[]): Run => [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)] as Run

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
    writeInput(file, n, VALUE_SIZE)
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
