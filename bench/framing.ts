import { performance } from 'node:perf_hooks'
import split2 from 'split2'
import { RequestParser } from '../lib/protocol/request-parser.js'

// STYLE.md suggests framing with split2 (socket read as latin1, split2 with
// decodeStrings false, bulks re-joined by length). The server uses a Buffer
// parser instead. This parses the same pipelined SET stream both ways:
//   node dist/bench/framing.js [COMMANDS]

const COMMANDS = Number(process.argv[2] ?? 200_000)
const VALUE_SIZE = 100
const ROUNDS = 5

/** Pipelined `SET key:NNNNNNNNNNNN <100 bytes>` commands; every 7th value holds a CRLF, as binary values may. */
function stream (): Buffer {
  const parts: string[] = []
  for (let i = 0; i < COMMANDS; i++) {
    const key = `key:${String(Math.floor(Math.random() * 100_000)).padStart(12, '0')}`
    const value = i % 7 === 0 ? 'x'.repeat(VALUE_SIZE / 2 - 1) + '\r\n' + 'y'.repeat(VALUE_SIZE / 2 - 1) : 'x'.repeat(VALUE_SIZE)
    parts.push(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`)
  }
  return Buffer.from(parts.join(''), 'latin1')
}

function chunks (data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size))
  return out
}

function viaParser (input: Buffer[]): number {
  const parser = new RequestParser()
  let n = 0
  for (const chunk of input) {
    parser.feed(chunk)
    for (let r = parser.next(); r !== null; r = parser.next()) {
      if (!Array.isArray(r)) throw r
      n++
    }
  }
  return n
}

/**
 * RESP from lines: `*N`, then per argument `$len` and the data line; a data
 * line shorter than len held a newline, so the next lines are joined back on.
 * Lines are split on LF alone and lose their CR here, so re-joining is exact.
 */
class LineFramer {
  private args: string[] | null = null
  private left = 0
  private want = -1
  private partial: string | null = null

  constructor (private readonly onCommand: (args: string[]) => void) {}

  line (raw: string): void {
    if (this.partial !== null) {
      this.partial += '\n' + raw
      if (this.partial.length < this.want + 1) return
      return this.data(this.partial)
    }
    if (this.want >= 0) return this.data(raw)
    const c = raw.charCodeAt(0)
    if (c === 42) { // '*'
      this.left = Number(raw.slice(1, -1))
      this.args = []
    } else if (c === 36) { // '$'
      this.want = Number(raw.slice(1, -1))
    } else {
      throw new Error(`unexpected line ${raw.slice(0, 20)}`)
    }
  }

  private data (text: string): void {
    if (text.length < this.want + 1) {
      this.partial = text
      return
    }
    this.partial = null
    ;(this.args as string[]).push(text.slice(0, this.want)) // drop the CR
    this.want = -1
    if (--this.left === 0) {
      this.onCommand(this.args as string[])
      this.args = null
    }
  }
}

/** The socket's latin1 decoding (setEncoding) is part of this side's cost, so it is timed too. */
function viaSplit2 (input: Buffer[], toBuffers: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0
    const framer = new LineFramer(args => {
      if (toBuffers) for (const a of args) Buffer.from(a, 'latin1')
      n++
    })
    const lines = split2('\n', { decodeStrings: false, maxLength: 64 * 1024 })
    lines.on('data', (line: string) => framer.line(line))
    lines.on('error', reject)
    lines.on('end', () => resolve(n))
    for (const chunk of input) lines.write(chunk.toString('latin1'))
    lines.end()
  })
}

async function time (name: string, bytes: number, fn: () => number | Promise<number>): Promise<void> {
  let best = Infinity
  let n = 0
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now()
    n = await fn()
    best = Math.min(best, performance.now() - start)
  }
  if (n !== COMMANDS) throw new Error(`${name}: framed ${n} commands, expected ${COMMANDS}`)
  const mops = n / best / 1000
  process.stdout.write(`| ${name} | ${mops.toFixed(2)} | ${(bytes / best / 1000).toFixed(0)} |\n`)
}

async function main (): Promise<void> {
  const data = stream()
  process.stdout.write(`${COMMANDS} pipelined SETs, ${VALUE_SIZE}-byte values (1 in 7 holds a CRLF), ${(data.length / 1e6).toFixed(1)} MB; best of ${ROUNDS}\n\n`)
  process.stdout.write('| framing | M commands/s | MB/s |\n|---|---:|---:|\n')
  for (const [label, size] of [['64 KiB chunks', 65536], ['16-command chunks', Math.round(data.length / COMMANDS) * 16]] as const) {
    const buffers = chunks(data, size)
    await time(`RequestParser, ${label}`, data.length, () => viaParser(buffers))
    await time(`split2 + re-join (string args), ${label}`, data.length, () => viaSplit2(buffers, false))
    await time(`split2 + re-join + Buffer args, ${label}`, data.length, () => viaSplit2(buffers, true))
  }
}

main().catch(err => {
  process.stderr.write(`framing: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
