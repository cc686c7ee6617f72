import { spawn } from 'node:child_process'
import type { LoadOptions, Test } from './load.js'

// Runs redis-benchmark (Debian package redis-tools) and reads its CSV:
//   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
//   "SET","416666.66","1.669","0.680","1.535","2.991","4.119","4.479"

/** The same load as bench/load.ts describes. */
export type BenchmarkOptions = LoadOptions

export interface BenchmarkResult {
  opsPerSec: number
  p50Ms: number
  p99Ms: number
}

export function benchmarkArgs (o: BenchmarkOptions): string[] {
  return [
    '-h', o.host, '-p', String(o.port), '-c', String(o.clients), '-n', String(o.requests),
    '-P', String(o.pipeline), '-d', String(o.valueSize), '-r', String(o.keyspace),
    '-t', o.test, '--csv', '-q'
  ]
}

function parseCsv (stdout: string, test: Test): BenchmarkResult | null {
  const lines = stdout.trim().split('\n').map(l => l.trim().split(',').map(f => f.replace(/^"|"$/g, '')))
  const header = lines.find(f => f[0] === 'test')
  const row = lines.find(f => f[0]?.toLowerCase() === test)
  if (header === undefined || row === undefined) return null
  const field = (name: string): number => Number(row[header.indexOf(name)])
  const result = { opsPerSec: field('rps'), p50Ms: field('p50_latency_ms'), p99Ms: field('p99_latency_ms') }
  return Object.values(result).every(Number.isFinite) ? result : null
}

export function runBenchmark (o: BenchmarkOptions): Promise<BenchmarkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', benchmarkArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.once('error', reject)
    child.once('close', code => {
      const result = parseCsv(stdout, o.test)
      if (code === 0 && result !== null) return resolve(result)
      reject(new Error(`redis-benchmark ${benchmarkArgs(o).join(' ')} failed (exit ${String(code)}):\n${stdout}${stderr}`))
    })
  })
}
