import { readFileSync } from 'node:fs'
import path from 'node:path'
import { RespClient } from '../lib/client/resp-client.js'
import { RespError, type RespValue } from '../lib/protocol/reply-parser.js'
import { encodeCommand } from './load.js'
import { startKeystone, startRedis, type BenchServer } from './servers.js'

// The memory section of `npm run bench` (also alone: `--memory`). Three cases,
// each in a fresh pair of servers so that they do not mix: one hash of N fields
// (`field:<i>` → `value:<i>`), one set of N members (`member:<i>`), and N string
// keys (`key:<i>` → 100 bytes of 'x', redis-benchmark's SET value at `-d 100`,
// the throughput runs' value). N is 1,000,000 unless --keys says otherwise.
// Loaded through the protocol: 1000 fields or members per HSET or SADD, 1000
// SETs per pipelined batch, two batches in flight.
//
// Measured: INFO memory used_memory (Keystone's is the V8 heap in use plus
// external memory, Buffers included, lib/commands/info.ts; Redis's is what its
// allocator holds) and the process's VmRSS from /proc/<pid>/status. Keystone
// runs with --expose-gc and bench/gc-signal.ts preloaded, so the bench can have
// it collect its garbage (SIGUSR2) before reading used_memory; the figure the
// node reports without that is shown too. Bytes per item are the growth of
// used_memory from the empty server's, divided by N.

export type MemoryCase = 'hash' | 'set' | 'strings'

export const MEMORY_CASES: readonly MemoryCase[] = ['hash', 'set', 'strings']

const VALUE_SIZE = 100
/** Fields or members per HSET or SADD; SETs per pipelined batch. */
const BATCH = 1000
/** Batches in flight on the loading connection. */
const WINDOW = 2

export interface Footprint {
  /** INFO used_memory of the empty server, bytes (Keystone's after a forced GC). */
  emptyUsed: number
  /** INFO used_memory once loaded, bytes (Keystone's after a forced GC). */
  used: number
  /** Keystone only: used_memory as the node reported it before the forced GC. */
  usedBeforeGc: number | null
  /** VmRSS once loaded, bytes. */
  rss: number
  /** Seconds the loading took. */
  loadSeconds: number
}

export interface MemoryRow {
  case: MemoryCase
  items: number
  keystone: Footprint
  redis: Footprint | null
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

function describe (c: MemoryCase, items: number): string {
  const n = items.toLocaleString('en-US')
  if (c === 'hash') return `one hash of ${n} fields`
  if (c === 'set') return `one set of ${n} members`
  return `${n} string keys`
}

/** VmRSS of a process, bytes. */
function rssOf (pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(m[1]) * 1024
}

async function usedMemory (client: RespClient): Promise<number> {
  const reply = await client.expect(['INFO', 'memory'])
  const m = /^used_memory:(\d+)/m.exec(Buffer.isBuffer(reply) ? reply.toString('latin1') : String(reply))
  if (m === null) throw new Error('INFO memory has no used_memory')
  return Number(m[1])
}

/**
 * Keystone's used_memory after a full collection: SIGUSR2 (bench/gc-signal.ts),
 * time for the signal to be handled, twice (the first may leave what finalizers
 * freed), then INFO.
 */
async function collectedMemory (server: BenchServer, client: RespClient): Promise<number> {
  for (let i = 0; i < 2; i++) {
    process.kill(server.pid, 'SIGUSR2')
    await sleep(500)
  }
  return await usedMemory(client)
}

/** Items at..at+n-1 of the case as RESP, the number of replies, and what each reply must be. */
function batchOf (c: MemoryCase, at: number, n: number): { bytes: string, replies: number, expect: RespValue } {
  const value = 'x'.repeat(VALUE_SIZE)
  if (c === 'strings') {
    const commands: string[] = []
    for (let i = at; i < at + n; i++) commands.push(encodeCommand(['SET', `key:${i}`, value]))
    return { bytes: commands.join(''), replies: n, expect: 'OK' }
  }
  const args = c === 'hash' ? ['HSET', 'myhash'] : ['SADD', 'myset']
  for (let i = at; i < at + n; i++) {
    if (c === 'hash') args.push(`field:${i}`, `value:${i}`)
    else args.push(`member:${i}`)
  }
  return { bytes: encodeCommand(args), replies: 1, expect: n }
}

/** Loads the case's items; returns the seconds it took. */
async function load (client: RespClient, c: MemoryCase, items: number): Promise<number> {
  const started = process.hrtime.bigint()
  let failure: Error | null = null
  const pending: Array<Promise<void>> = []
  for (let at = 0; at < items && failure === null; at += BATCH) {
    const { bytes, replies, expect } = batchOf(c, at, Math.min(BATCH, items - at))
    pending.push(client.sendMany(bytes, replies).then(values => {
      const bad = values.find(v => v !== expect)
      if (bad !== undefined) throw new Error(`loading ${c}: expected ${String(expect)}, got ${bad instanceof RespError ? bad.message : String(bad)}`)
    }).catch((err: unknown) => { failure ??= err instanceof Error ? err : new Error(String(err)) }))
    if (pending.length >= WINDOW) await pending.shift()
  }
  await Promise.all(pending)
  if (failure !== null) throw failure
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** How many items the server holds: HLEN, SCARD or DBSIZE. */
async function count (client: RespClient, c: MemoryCase): Promise<number> {
  const reply = await client.expect(c === 'hash' ? ['HLEN', 'myhash'] : c === 'set' ? ['SCARD', 'myset'] : ['DBSIZE'])
  return Number(reply)
}

async function measureOne (server: BenchServer, c: MemoryCase, items: number, isKeystone: boolean): Promise<Footprint> {
  const client = await RespClient.connect({ host: server.host, port: server.port })
  try {
    const emptyUsed = isKeystone ? await collectedMemory(server, client) : await usedMemory(client)
    const loadSeconds = await load(client, c, items)
    const held = await count(client, c)
    if (held !== items) throw new Error(`${server.name} holds ${held} items of ${describe(c, items)}`)
    const usedBeforeGc = isKeystone ? await usedMemory(client) : null
    const used = isKeystone ? await collectedMemory(server, client) : await usedMemory(client)
    return { emptyUsed, used, usedBeforeGc, rss: rssOf(server.pid), loadSeconds }
  } finally {
    client.close()
  }
}

export interface MemoryOptions {
  /** Items per case. */
  items: number
  /** Measure Redis beside Keystone. */
  withRedis: boolean
  /** Arguments for the node running Keystone (--node-arg). */
  nodeArgs: string[]
}

/** Runs the three cases, each in a fresh Keystone node and a fresh redis-server. */
export async function runMemory (o: MemoryOptions): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = []
  const preload = path.join(__dirname, 'gc-signal.js')
  for (const c of MEMORY_CASES) {
    const servers: BenchServer[] = []
    try {
      const keystone = await startKeystone(['--expose-gc', '--require', preload, ...o.nodeArgs])
      servers.push(keystone)
      const redis = o.withRedis ? await startRedis() : null
      if (redis !== null) servers.push(redis)
      process.stderr.write(`memory, ${describe(c, o.items)}: keystone`)
      const k = await measureOne(keystone, c, o.items, true)
      process.stderr.write(` ${mib(k.used)} (loaded in ${k.loadSeconds.toFixed(1)} s)`)
      const r = redis === null ? null : await measureOne(redis, c, o.items, false)
      process.stderr.write(r === null ? '\n' : `, redis ${mib(r.used)} (loaded in ${r.loadSeconds.toFixed(1)} s)\n`)
      rows.push({ case: c, items: o.items, keystone: k, redis: r })
    } finally {
      for (const s of servers) await s.stop()
    }
  }
  return rows
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`
const perItem = (f: Footprint, items: number): string => Math.round((f.used - f.emptyUsed) / items).toLocaleString('en-US')
const ratio = (a: number, b: number): string => b > 0 ? (a / b).toFixed(2) : '—'

export function memoryTable (rows: MemoryRow[]): string {
  const lines: string[] = []
  if (rows.some(r => r.redis !== null)) {
    lines.push('| memory | keystone used_memory | redis used_memory | ratio | keystone B/item | redis B/item | keystone RSS | redis RSS | RSS ratio | keystone used_memory before GC |')
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const { case: c, items, keystone: k, redis: r } of rows) {
      if (r === null) continue
      lines.push(`| ${describe(c, items)} | ${mib(k.used)} | ${mib(r.used)} | ${ratio(k.used, r.used)} | ${perItem(k, items)} | ${perItem(r, items)} | ${mib(k.rss)} | ${mib(r.rss)} | ${ratio(k.rss, r.rss)} | ${mib(k.usedBeforeGc ?? k.used)} |`)
    }
  } else {
    lines.push('| memory | keystone used_memory | keystone B/item | keystone RSS | keystone used_memory before GC |')
    lines.push('|---|---:|---:|---:|---:|')
    for (const { case: c, items, keystone: k } of rows) {
      lines.push(`| ${describe(c, items)} | ${mib(k.used)} | ${perItem(k, items)} | ${mib(k.rss)} | ${mib(k.usedBeforeGc ?? k.used)} |`)
    }
  }
  return lines.join('\n')
}

/** The target: used_memory at most 3 times Redis's for the same data. */
export function memoryTargets (rows: MemoryRow[]): string[] {
  const out: string[] = []
  for (const { case: c, items, keystone: k, redis: r } of rows) {
    if (r === null) continue
    const x = k.used / r.used
    out.push(`- ${describe(c, items)}: used_memory ratio ${x.toFixed(2)} (target ≤ 3): ${x <= 3 ? 'met' : 'NOT met'}`)
  }
  return out
}

/** What the memory table's figures are. */
export const MEMORY_NOTE = 'Memory: each case in a fresh Keystone node (memory only) and a fresh redis-server (`--save \'\' --appendonly no`), ' +
  `loaded through the protocol (${BATCH} fields or members per HSET or SADD; ${BATCH} SETs per pipelined batch); hash fields \`field:<i>\` → \`value:<i>\`, ` +
  `set members \`member:<i>\`, string keys \`key:<i>\` → ${VALUE_SIZE} bytes of 'x' (redis-benchmark's SET value at \`-d ${VALUE_SIZE}\`). ` +
  'used_memory is INFO memory\'s: for Keystone the V8 heap in use plus external memory (Buffers), read after a full GC ' +
  '(the node runs with --expose-gc and bench/gc-signal.ts preloaded, which collects on SIGUSR2; the last column is the figure before it), ' +
  'for Redis what its allocator holds. B/item is the growth of used_memory from the empty server\'s, per item. RSS is VmRSS from /proc/<pid>/status.'
