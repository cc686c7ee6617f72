import net from 'node:net'
import { performance } from 'node:perf_hooks'

// A load generator in Node, shaped like redis-benchmark: `clients` connections,
// each sending `pipeline` commands at a time and waiting for all their replies,
// a 12-digit number drawn uniformly from the keyspace in each request (the key,
// or for HSET and SADD the field or member), values of 'x'.
// Used when redis-benchmark is not installed, and for prefilling.

/**
 * `incr`: INCR of keys drawn from the keyspace, as redis-benchmark's `-t incr -r N`
 * (its keys are `counter:...`, ours `key:...`). `multi`: a transaction,
 * MULTI / INCR key / EXEC, counted as one request (redis-benchmark has no such test).
 * `hset` and `sadd` are redis-benchmark's: HSET myhash element:N value, SADD myset element:N.
 */
export type Test = 'set' | 'get' | 'incr' | 'multi' | 'hset' | 'sadd'

export const TESTS: readonly Test[] = ['set', 'get', 'incr', 'multi', 'hset', 'sadd']

export interface LoadOptions {
  host: string
  port: number
  test: Test
  /** Connections. */
  clients: number
  /** Requests in total, over all connections. */
  requests: number
  /** Commands sent per round trip. */
  pipeline: number
  /** Value size, bytes (SET, HSET). */
  valueSize: number
  /** Keys (fields, members) are drawn from 0 .. keyspace-1. */
  keyspace: number
}

export interface LoadResult {
  ops: number
  seconds: number
  opsPerSec: number
  p50Ms: number
  p99Ms: number
  /** CPU the load generator itself used (this process), µs per op. */
  loadCpuMicrosPerOp: number
}

const KEY_DIGITS = 12
/** Where the drawn number goes: the first `:` followed by this in a request. */
const SLOT = ':' + '0'.repeat(KEY_DIGITS)

/** RESP for one command of text arguments. */
export function encodeCommand (args: readonly string[]): string {
  return `*${args.length}\r\n` + args.map(a => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')
}

/** A request's commands; the number goes in the first argument holding SLOT. */
function commandsOf (test: Test, valueSize: number): string[][] {
  const key = 'key' + SLOT
  const value = 'x'.repeat(valueSize)
  switch (test) {
    case 'set': return [['SET', key, value]]
    case 'get': return [['GET', key]]
    case 'incr': return [['INCR', key]]
    case 'multi': return [['MULTI'], ['INCR', key], ['EXEC']]
    case 'hset': return [['HSET', 'myhash', 'element' + SLOT, value]]
    case 'sadd': return [['SADD', 'myset', 'element' + SLOT]]
  }
}

/**
 * One request's bytes with the number's digits at `keyAt`, to be overwritten per
 * request, and how many replies it gets.
 */
function template (test: Test, valueSize: number): { bytes: Buffer, keyAt: number, replies: number } {
  const commands = commandsOf(test, valueSize)
  const text = commands.map(encodeCommand).join('')
  return { bytes: Buffer.from(text, 'latin1'), keyAt: text.indexOf(SLOT) + 1, replies: commands.length }
}

function writeKey (buf: Buffer, at: number, n: number): void {
  for (let i = at + KEY_DIGITS - 1; i >= at; i--) {
    buf[i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
}

/** Counts complete RESP2 replies (simple, error, integer, bulk, arrays of those) across chunk boundaries. */
class ReplyCounter {
  /** Elements still to come of the array being read (its elements are not counted on their own). */
  private arrayLeft = 0
  /** Bytes of bulk payload (plus CRLF) still to skip. */
  private skip = 0
  /** Inside a reply's first line. */
  private inLine = false
  private isBulk = false
  private isArray = false
  private negative = false
  private length = 0

  /** Replies completed in this chunk. */
  count (chunk: Buffer): number {
    let done = 0
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i)
        this.skip -= take
        i += take
        if (this.skip === 0) done += this.complete()
        continue
      }
      if (!this.inLine) {
        const type = chunk[i++]
        if (type === 42 && this.arrayLeft > 0) throw new Error('nested array replies are not expected here')
        this.inLine = true
        this.isArray = type === 42
        this.isBulk = type === 36
        this.negative = false
        this.length = 0
        continue
      }
      const c = chunk[i++] as number
      if (c === 10) {
        this.inLine = false
        if (this.isBulk && !this.negative) this.skip = this.length + 2
        else if (this.isArray && !this.negative && this.length > 0) this.arrayLeft = this.length
        else done += this.complete()
      } else if (this.isBulk || this.isArray) {
        if (c === 45) this.negative = true
        else if (c >= 48 && c <= 57) this.length = this.length * 10 + c - 48
      }
    }
    return done
  }

  /** A scalar reply ended: one reply, or one element of the array being read. */
  private complete (): number {
    if (this.arrayLeft === 0) return 1
    this.arrayLeft--
    return this.arrayLeft === 0 ? 1 : 0
  }
}

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

/** Runs the load; latency of a request is from its batch's write to its reply, as redis-benchmark counts it. */
export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const { bytes, keyAt, replies } = template(o.test, o.valueSize)
  const latencies = new Float64Array(o.requests)
  let issued = 0
  let completed = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()

  const client = (): Promise<void> => new Promise((resolve, reject) => {
    const socket = net.connect(o.port, o.host)
    socket.setNoDelay(true)
    const counter = new ReplyCounter()
    let outstanding = 0
    let received = 0
    let sentAt = 0
    const send = (): void => {
      const batch = Math.min(o.pipeline, o.requests - issued)
      if (batch <= 0) {
        socket.end()
        return resolve()
      }
      issued += batch
      outstanding = batch * replies
      received = 0
      const out = Buffer.allocUnsafe(bytes.length * batch)
      for (let b = 0; b < batch; b++) {
        const at = b * bytes.length
        bytes.copy(out, at)
        writeKey(out, at + keyAt, Math.floor(Math.random() * o.keyspace))
      }
      sentAt = performance.now()
      socket.write(out)
    }
    socket.on('connect', send)
    socket.on('data', (chunk: Buffer) => {
      const got = counter.count(chunk)
      if (got === 0) return
      const latency = performance.now() - sentAt
      outstanding -= got
      // A request is done with its last reply (a transaction's EXEC).
      const requestsBefore = Math.floor(received / replies)
      received += got
      for (let k = requestsBefore; k < Math.floor(received / replies); k++) latencies[completed++] = latency
      if (outstanding === 0) send()
      else if (outstanding < 0) reject(new Error('more replies than requests'))
    })
    socket.on('error', reject)
  })

  await Promise.all(Array.from({ length: o.clients }, client))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const sorted = latencies.subarray(0, completed).sort()
  return {
    ops: completed,
    seconds,
    opsPerSec: completed / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    loadCpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(1, completed)
  }
}

/**
 * Writes every key of the keyspace once, so that GETs hit; with `hset` or `sadd`,
 * every field of myhash or member of myset, so that each measured request finds
 * the same (full) hash or set on every server.
 */
export async function prefill (host: string, port: number, keyspace: number, valueSize: number, test: 'set' | 'hset' | 'sadd' = 'set'): Promise<void> {
  const { bytes, keyAt } = template(test, valueSize)
  const BATCH = 1000
  const socket = net.connect(port, host)
  const counter = new ReplyCounter()
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  let next = 0
  await new Promise<void>((resolve, reject) => {
    let outstanding = 0
    const send = (): void => {
      const batch = Math.min(BATCH, keyspace - next)
      if (batch === 0) return resolve()
      const out = Buffer.allocUnsafe(bytes.length * batch)
      for (let b = 0; b < batch; b++) {
        bytes.copy(out, b * bytes.length)
        writeKey(out, b * bytes.length + keyAt, next++)
      }
      outstanding = batch
      socket.write(out)
    }
    socket.on('data', (chunk: Buffer) => {
      outstanding -= counter.count(chunk)
      if (outstanding === 0) send()
    })
    socket.on('error', reject)
    send()
  })
  socket.end()
}
