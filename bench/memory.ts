import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { RespClient } from '../lib/client/resp-client.js'
import { RespError, type RespValue } from '../lib/protocol/reply-parser.js'
import type { BareMapFigures } from './bare-map.js'
import { int, mib } from './format.js'
import { parseHeapSnapshot, summariseHeapSnapshot } from './heap-summary.js'
import { encodeCommand } from './load.js'
import type { CollectionCase, CollectionRow, Footprint, HeapSummary, MemoryResult, StringsFootprint, StringsRow } from './memory-report.js'
import { load, writeInput, type Loader } from './pipe-load.js'
import { onPath, startKeystone, startRedis, type BenchServer } from './servers.js'

// The memory section of `npm run bench` (also alone: `--memory`); the tables
// and the note saying what each figure is are in bench/memory-report.ts.
// Every case runs in a fresh Keystone node and a fresh redis-server, so that
// cases do not mix:
// - one hash of N fields and one set of N members, loaded by the bench's own
//   pipelined client (many fields or members per command);
// - N string keys at each of STRING_VALUE_SIZES, from a file of SETs written
//   once (bench/pipe-load.ts) and loaded with `redis-cli --pipe` twice, fresh
//   keys then overwrites, as a user loading a dump would; beside them a bare
//   Node process holding the same keys in one Map (bench/bare-map.ts);
// - a heap snapshot of one more node holding snapshotKeys of the 100-byte
//   keys, summed by kind of object (bench/heap-summary.ts).
// Keystone runs with --expose-gc and bench/gc-signal.ts preloaded: SIGUSR2
// collects garbage before used_memory is read, SIGURG writes the snapshot.

export const COLLECTION_CASES: readonly CollectionCase[] = ['hash', 'set']
/** Value sizes of the string cases, bytes: small, the throughput runs' 100 (where the targets are set), and 1 KB. */
export const STRING_VALUE_SIZES: readonly number[] = [10, 100, 1024]
/** The string case the heap snapshot is taken of. */
const SNAPSHOT_VALUE_SIZE = 100

/** Fields or members per HSET or SADD. */
const BATCH = 1000
/** Commands in flight on the loading connection. */
const WINDOW = 2
/** How long a heap snapshot may take to appear, ms. */
const SNAPSHOT_TIMEOUT_MS = 300_000

const PRELOAD = path.join(__dirname, 'gc-signal.js')
const BARE_MAP = path.join(__dirname, 'bare-map.js')

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

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
 * used_memory after a full collection for Keystone: SIGUSR2 (bench/gc-signal.ts),
 * time for the signal to be handled, twice (the first may leave what finalizers
 * freed), then INFO. Redis's as it is.
 */
async function settledMemory (server: BenchServer, client: RespClient): Promise<number> {
  if (server.name === 'keystone') {
    for (let i = 0; i < 2; i++) {
      process.kill(server.pid, 'SIGUSR2')
      await sleep(500)
    }
  }
  return await usedMemory(client)
}

async function startPair (withRedis: boolean, nodeArgs: string[], servers: BenchServer[]): Promise<{ keystone: BenchServer, redis: BenchServer | null }> {
  const keystone = await startKeystone(['--expose-gc', '--require', PRELOAD, ...nodeArgs])
  servers.push(keystone)
  const redis = withRedis ? await startRedis() : null
  if (redis !== null) servers.push(redis)
  return { keystone, redis }
}

// ---- one hash, one set ----

/** Items at..at+n-1 of the case as one HSET or SADD. */
function collectionBatch (c: CollectionCase, at: number, n: number): string {
  const args = c === 'hash' ? ['HSET', 'myhash'] : ['SADD', 'myset']
  for (let i = at; i < at + n; i++) {
    if (c === 'hash') args.push(`field:${i}`, `value:${i}`)
    else args.push(`member:${i}`)
  }
  return encodeCommand(args)
}

/** Loads the case's items, WINDOW commands in flight; returns the seconds it took. */
async function loadCollection (client: RespClient, c: CollectionCase, items: number): Promise<number> {
  const started = process.hrtime.bigint()
  let failure: Error | null = null
  const pending: Array<Promise<void>> = []
  for (let at = 0; at < items && failure === null; at += BATCH) {
    const n = Math.min(BATCH, items - at)
    pending.push(client.sendMany(collectionBatch(c, at, n), 1).then(([added]: RespValue[]) => {
      if (added !== n) throw new Error(`loading ${c}: expected ${n}, got ${added instanceof RespError ? added.message : String(added)}`)
    }).catch((err: unknown) => { failure ??= err instanceof Error ? err : new Error(String(err)) }))
    if (pending.length >= WINDOW) await pending.shift()
  }
  await Promise.all(pending)
  if (failure !== null) throw failure
  return Number(process.hrtime.bigint() - started) / 1e9
}

async function measureCollection (server: BenchServer, c: CollectionCase, items: number): Promise<Footprint> {
  const client = await RespClient.connect({ host: server.host, port: server.port })
  try {
    const emptyUsed = await settledMemory(server, client)
    const loadSeconds = await loadCollection(client, c, items)
    const held = Number(await client.expect(c === 'hash' ? ['HLEN', 'myhash'] : ['SCARD', 'myset']))
    if (held !== items) throw new Error(`${server.name} holds ${held} of the ${c}'s ${items} items`)
    const usedBeforeGc = server.name === 'keystone' ? await usedMemory(client) : null
    const used = await settledMemory(server, client)
    return { emptyUsed, used, usedBeforeGc, rss: rssOf(server.pid), loadSeconds }
  } finally {
    client.close()
  }
}

// ---- string keys ----

/** A server being measured for a string case; its figures are filled in step by step. */
interface StringsRun {
  server: BenchServer
  client: RespClient
  figures: StringsFootprint
}

/**
 * The file into each server (fresh keys), then the memory of each, then the
 * file again into each (overwrites): the servers take turns at each step, so
 * a change in the machine's load touches both.
 */
async function measureStrings (servers: BenchServer[], loader: Loader, file: string, keys: number): Promise<StringsFootprint[]> {
  const runs: StringsRun[] = []
  try {
    for (const server of servers) {
      const client = await RespClient.connect({ host: server.host, port: server.port })
      runs.push({ server, client, figures: { emptyUsed: 0, used: 0, rss: 0, freshSeconds: 0, overwriteSeconds: 0, usedAfterOverwrite: 0 } })
    }
    for (const { server, client, figures } of runs) figures.emptyUsed = await settledMemory(server, client)
    for (const { server, client, figures } of runs) {
      figures.freshSeconds = (await load(loader, server, file, keys)).seconds
      const held = Number(await client.expect(['DBSIZE']))
      if (held !== keys) throw new Error(`${server.name} holds ${held} keys of ${keys}`)
    }
    for (const { server, client, figures } of runs) {
      figures.used = await settledMemory(server, client)
      figures.rss = rssOf(server.pid)
    }
    for (const { server, figures } of runs) figures.overwriteSeconds = (await load(loader, server, file, keys)).seconds
    for (const { server, client, figures } of runs) figures.usedAfterOverwrite = await settledMemory(server, client)
    return runs.map(run => run.figures)
  } finally {
    for (const run of runs) run.client.close()
  }
}

const execFileAsync = promisify(execFile)

/** The same keys and values in one Map in a bare Node process (bench/bare-map.ts). */
async function bareMap (keys: number, valueSize: number, kind: 'buffer' | 'latin1'): Promise<BareMapFigures> {
  const { stdout } = await execFileAsync(process.execPath, ['--expose-gc', BARE_MAP, String(keys), String(valueSize), kind])
  const figures = JSON.parse(stdout) as BareMapFigures
  if (figures.keys !== keys) throw new Error(`bare-map held ${figures.keys} keys of ${keys}`)
  return figures
}

async function stringsCase (o: MemoryOptions, loader: Loader, file: string, valueSize: number): Promise<StringsRow> {
  const servers: BenchServer[] = []
  let keystone: StringsFootprint
  let redis: StringsFootprint | null
  try {
    const pair = await startPair(o.withRedis, o.nodeArgs, servers)
    process.stderr.write(`memory, ${int(o.items)} string keys of ${valueSize} bytes, ${loader} --pipe into ${servers.map(s => s.name).join(' and ')}\n`)
    const [k, r] = await measureStrings(pair.redis === null ? [pair.keystone] : [pair.keystone, pair.redis], loader, file, o.items)
    keystone = k as StringsFootprint
    redis = r ?? null
  } finally {
    for (const s of servers) await s.stop()
  }
  process.stderr.write(`  keystone ${mib(keystone.used)}, fresh ${keystone.freshSeconds.toFixed(2)} s, overwrite ${keystone.overwriteSeconds.toFixed(2)} s` +
    (redis === null ? '' : `; redis ${mib(redis.used)}, fresh ${redis.freshSeconds.toFixed(2)} s, overwrite ${redis.overwriteSeconds.toFixed(2)} s`) + '; bare Node Map\n')
  const bare = { buffer: await bareMap(o.items, valueSize, 'buffer'), latin1: await bareMap(o.items, valueSize, 'latin1') }
  return { keys: o.items, valueSize, keystone, redis, bare }
}

// ---- heap snapshot ----

async function waitForFile (file: string, pid: number): Promise<void> {
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS
  while (!existsSync(file)) {
    try {
      process.kill(pid, 0) // signal 0: only asks whether the node is still there
    } catch {
      throw new Error(`the node (pid ${pid}) exited before writing its heap snapshot to ${file}`)
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot at ${file} within ${SNAPSHOT_TIMEOUT_MS / 1000} s`)
    await sleep(250)
  }
}

/** One more node, loaded with `keys` SETs from `file`, its heap snapshot summed by kind of object. */
async function heapSnapshotCase (o: MemoryOptions, loader: Loader, file: string, keys: number, dir: string): Promise<HeapSummary> {
  const snapshot = path.join(dir, 'keystone.heapsnapshot')
  const server = await startKeystone(['--expose-gc', '--require', PRELOAD, ...o.nodeArgs], [], { KEYSTONE_BENCH_HEAP_SNAPSHOT: snapshot })
  try {
    process.stderr.write(`memory, heap snapshot of a node holding ${int(keys)} string keys of ${SNAPSHOT_VALUE_SIZE} bytes\n`)
    await load(loader, server, file, keys)
    process.kill(server.pid, 'SIGURG')
    await waitForFile(snapshot, server.pid)
    return { keys, groups: summariseHeapSnapshot(parseHeapSnapshot(readFileSync(snapshot, 'utf8'))) }
  } finally {
    await server.stop()
    rmSync(snapshot, { force: true })
    rmSync(`${snapshot}.tmp`, { force: true })
  }
}

// ---- the section ----

export interface MemoryOptions {
  /** Items per case: fields, members or string keys. */
  items: number
  /** Keys loaded into the node whose heap snapshot is summed; 0: no snapshot. */
  snapshotKeys: number
  /** Measure Redis beside Keystone. */
  withRedis: boolean
  /** Arguments for the node running Keystone (--node-arg). */
  nodeArgs: string[]
}

/** Runs every case; the string files live in a temporary directory, removed at the end whatever happens. */
export async function runMemory (o: MemoryOptions): Promise<MemoryResult & { notes: string[] }> {
  const notes: string[] = []
  const loader: Loader = onPath('redis-cli') ? 'redis-cli' : 'keystone-cli'
  if (loader === 'keystone-cli') {
    notes.push('redis-cli not found, so the string files were loaded with `keystone-cli --pipe` into every server (Debian: `apt-get install redis-tools`).')
  }
  const collections: CollectionRow[] = []
  for (const c of COLLECTION_CASES) {
    const servers: BenchServer[] = []
    try {
      const { keystone, redis } = await startPair(o.withRedis, o.nodeArgs, servers)
      process.stderr.write(`memory, one ${c} of ${int(o.items)} items: keystone`)
      const k = await measureCollection(keystone, c, o.items)
      process.stderr.write(` ${mib(k.used)} (loaded in ${k.loadSeconds.toFixed(1)} s)`)
      const r = redis === null ? null : await measureCollection(redis, c, o.items)
      process.stderr.write(r === null ? '\n' : `, redis ${mib(r.used)} (loaded in ${r.loadSeconds.toFixed(1)} s)\n`)
      collections.push({ case: c, items: o.items, keystone: k, redis: r })
    } finally {
      for (const s of servers) await s.stop()
    }
  }

  const strings: StringsRow[] = []
  let heap: HeapSummary | null = null
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keystone-bench-memory-'))
  try {
    for (const size of STRING_VALUE_SIZES) {
      const file = path.join(dir, `sets-${size}.resp`)
      process.stderr.write(`writing ${int(o.items)} SETs of ${size}-byte values to ${file}\n`)
      writeInput(file, o.items, size)
      strings.push(await stringsCase(o, loader, file, size))
      rmSync(file) // a 1 KB file of 1,000,000 keys is a gigabyte: gone before the next is written
    }
    if (o.snapshotKeys > 0) {
      const file = path.join(dir, 'snapshot.resp')
      writeInput(file, o.snapshotKeys, SNAPSHOT_VALUE_SIZE)
      heap = await heapSnapshotCase(o, loader, file, o.snapshotKeys, dir)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return { collections, strings, heap, loader, withRedis: o.withRedis, notes }
}
