import { spawn } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import path from 'node:path'
import { cpuMicros } from './cpu.js'
import type { BenchServer } from './servers.js'

// Bulk loading from a file of SETs in RESP, shared by the --pipe section
// (bench/pipe.ts) and the memory section's string cases (bench/memory.ts):
// the file is written once and given to `redis-cli --pipe` or `keystone-cli
// --pipe` on stdin, as a user loading a dump would.

const ROOT = path.resolve(__dirname, '..', '..')

/** Digits of the index at the end of a value: 1,000,000 keys need 7, one spare. */
const INDEX_DIGITS = 8
/** The file is written in pieces of about this many bytes, so a 1 GB file never sits in memory. */
const PIECE = 1 << 20

export type Loader = 'keystone-cli' | 'redis-cli'

export interface Run {
  seconds: number
  /** The server's CPU (user + system) over the load, seconds. */
  serverCpuSeconds: number
  /** The loader's own CPU (user + system), seconds. */
  clientCpuSeconds: number
}

/** Key i of the file: `key:<9-digit index>`, so every key has the same length. */
export function keyOf (i: number): string {
  return `key:${String(i).padStart(9, '0')}`
}

/**
 * Value i of the file: exactly `size` bytes, 'v's ending in the index's digits
 * (as many as fit), so values differ as real ones do but have one length.
 */
export function valueOf (i: number, size: number): string {
  const digits = String(i).padStart(INDEX_DIGITS, '0')
  return size >= digits.length ? 'v'.repeat(size - digits.length) + digits : digits.slice(digits.length - size)
}

/** `SET key:<i> <value>` for i in 0..n-1 as RESP arrays, values of `valueSize` bytes, written in pieces. */
export function writeInput (file: string, n: number, valueSize: number): void {
  const fd = openSync(file, 'w')
  try {
    // The 'v' run is the same for every value: build it once, append the digits per SET.
    const fill = 'v'.repeat(Math.max(0, valueSize - INDEX_DIGITS))
    let piece = ''
    for (let i = 0; i < n; i++) {
      const key = keyOf(i)
      const v = valueSize >= INDEX_DIGITS ? fill + String(i).padStart(INDEX_DIGITS, '0') : valueOf(i, valueSize)
      piece += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${v.length}\r\n${v}\r\n`
      if (piece.length > PIECE) {
        writeSync(fd, piece, null, 'latin1')
        piece = ''
      }
    }
    writeSync(fd, piece, null, 'latin1')
  } finally {
    closeSync(fd)
  }
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

/**
 * Runs the loader with the file on stdin, under `sh` whose `times` gives the
 * loader's CPU; seconds from spawn to exit. Its summary must say every SET was
 * answered, without error.
 */
export async function load (loader: Loader, server: BenchServer, file: string, n: number): Promise<Run> {
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
