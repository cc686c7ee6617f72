import type { BareMapFigures } from './bare-map.js'
import { int, mib, ratio } from './format.js'
import { heapTable, type HeapGroup } from './heap-summary.js'
import type { Loader } from './pipe-load.js'

// The memory section's part of bench/RESULTS.md, from what bench/memory.ts
// measured: the tables, the targets met or not, and what was measured
// and how. Pure, so it is tested without a server (test/bench/memory.test.ts).

export type CollectionCase = 'hash' | 'set'

/** A hash or set case at one server. */
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

export interface CollectionRow {
  case: CollectionCase
  items: number
  keystone: Footprint
  redis: Footprint | null
}

/** A string case at one server: the file loaded into the empty server, then again over its own keys. */
export interface StringsFootprint {
  /** INFO used_memory of the empty server, bytes (Keystone's after a forced GC). */
  emptyUsed: number
  /** INFO used_memory after the fresh load, bytes (Keystone's after a forced GC). */
  used: number
  /** VmRSS after the fresh load (and Keystone's GC), bytes. */
  rss: number
  /** Seconds the loader took to set every key, none there before. */
  freshSeconds: number
  /** Seconds the loader took to set every key again, each one already there. */
  overwriteSeconds: number
  /** INFO used_memory after the overwrites, bytes (Keystone's after a forced GC). */
  usedAfterOverwrite: number
}

export interface StringsRow {
  keys: number
  /** Bytes per value. */
  valueSize: number
  keystone: StringsFootprint
  redis: StringsFootprint | null
  /** The same keys and values in one Map in a bare Node process (bench/bare-map.ts). */
  bare: { buffer: BareMapFigures, latin1: BareMapFigures }
}

export interface HeapSummary {
  /** Keys loaded into the node the snapshot is of. */
  keys: number
  groups: HeapGroup[]
}

export interface MemoryResult {
  collections: CollectionRow[]
  strings: StringsRow[]
  heap: HeapSummary | null
  /** What loaded the string files (redis-cli when installed). */
  loader: Loader
  /** Redis ran beside Keystone. */
  withRedis: boolean
}

/** The targets (issue 15), checked at any size but set for this many keys, fields or members. */
export const TARGET_ITEMS = 1_000_000
/** The string targets are for values of this many bytes. */
export const TARGET_VALUE_SIZE = 100
export const TARGETS = {
  /** Keystone's RSS at most this many times Redis's. */
  rssRatio: 1.5,
  /** Fresh keys loaded at least this fraction of Redis's speed (redis s / keystone s). */
  freshSpeed: 0.6,
  /** Overwrites at least this fraction of Redis's speed. */
  overwriteSpeed: 0.8,
  /** A hash's or set's used_memory at most this many times Redis's. */
  collectionUsedRatio: 2
} as const

const perItem = (grown: number, items: number): string => items > 0 ? int(grown / items) : '—'

/** Redis's seconds over Keystone's: Keystone's speed as a fraction of Redis's (above 1: faster). */
export function speedRatio (redisSeconds: number, keystoneSeconds: number): number {
  return redisSeconds / keystoneSeconds
}

/** `x (target ≤ limit): met` or `NOT met`. */
export function verdict (x: number, op: '≤' | '≥', limit: number): string {
  const met = op === '≤' ? x <= limit : x >= limit
  return `${x.toFixed(2)} (target ${op} ${limit}): ${met ? 'met' : 'NOT met'}`
}

function describeCollection (c: CollectionCase, items: number): string {
  return c === 'hash' ? `one hash of ${int(items)} fields` : `one set of ${int(items)} members`
}

const describeStrings = (r: StringsRow): string => `${int(r.keys)} keys × ${r.valueSize} B`

interface Column<R> {
  head: string
  cell: (row: R) => string
  /** Text, left-aligned (numbers are right-aligned). */
  text?: boolean
  /** Shown only when Redis ran. */
  redis?: boolean
}

function markdownTable<R> (columns: Array<Column<R>>, rows: R[], withRedis: boolean): string {
  const shown = columns.filter(c => withRedis || c.redis !== true)
  return [
    `| ${shown.map(c => c.head).join(' | ')} |`,
    `|${shown.map(c => c.text === true ? '---|' : '---:|').join('')}`,
    ...rows.map(r => `| ${shown.map(c => c.cell(r)).join(' | ')} |`)
  ].join('\n')
}

/** The hash and set cases: used_memory and RSS of each server, and their ratios. */
export function collectionsTable (rows: CollectionRow[], withRedis: boolean): string {
  const r = (row: CollectionRow): Footprint => row.redis ?? row.keystone
  return markdownTable<CollectionRow>([
    { head: 'memory', text: true, cell: row => describeCollection(row.case, row.items) },
    { head: 'keystone used_memory', cell: row => mib(row.keystone.used) },
    { head: 'redis used_memory', redis: true, cell: row => mib(r(row).used) },
    { head: 'ratio', redis: true, cell: row => ratio(row.keystone.used, r(row).used) },
    { head: 'keystone B/item', cell: row => perItem(row.keystone.used - row.keystone.emptyUsed, row.items) },
    { head: 'redis B/item', redis: true, cell: row => perItem(r(row).used - r(row).emptyUsed, row.items) },
    { head: 'keystone RSS', cell: row => mib(row.keystone.rss) },
    { head: 'redis RSS', redis: true, cell: row => mib(r(row).rss) },
    { head: 'RSS ratio', redis: true, cell: row => ratio(row.keystone.rss, r(row).rss) },
    { head: 'keystone used_memory before GC', cell: row => mib(row.keystone.usedBeforeGc ?? row.keystone.used) }
  ], rows, withRedis && rows.every(row => row.redis !== null))
}

/** One line of the strings memory table: a process holding one case's keys. */
interface HolderLine {
  keys: string
  process: string
  used: number
  grown: number
  items: number
  rss: number
  usedAfterOverwrite: number | null
  redis: StringsFootprint | null
}

function holderLines (row: StringsRow): HolderLine[] {
  const keys = describeStrings(row)
  const server = (process: string, f: StringsFootprint): HolderLine =>
    ({ keys, process, used: f.used, grown: f.used - f.emptyUsed, items: row.keys, rss: f.rss, usedAfterOverwrite: f.usedAfterOverwrite, redis: row.redis })
  const bare = (process: string, b: BareMapFigures): HolderLine =>
    ({ keys, process, used: b.used, grown: b.used - b.emptyUsed, items: b.keys, rss: b.rss, usedAfterOverwrite: null, redis: row.redis })
  return [
    server('keystone', row.keystone),
    ...(row.redis === null ? [] : [server('redis', row.redis)]),
    bare('bare Node: Map → Buffer', row.bare.buffer),
    bare('bare Node: Map → latin1 string', row.bare.latin1)
  ]
}

/** The string cases' memory: Keystone, Redis and the bare-Node floor, each beside Redis. */
export function stringsMemoryTable (rows: StringsRow[], withRedis: boolean): string {
  const beside = (mine: number, redis: number | undefined, line: HolderLine): string =>
    line.process === 'redis' || redis === undefined ? '—' : ratio(mine, redis)
  return markdownTable<HolderLine>([
    { head: 'string keys', text: true, cell: l => l.keys },
    { head: 'process', text: true, cell: l => l.process },
    { head: 'used_memory', cell: l => mib(l.used) },
    { head: 'B/key', cell: l => perItem(l.grown, l.items) },
    { head: 'RSS', cell: l => mib(l.rss) },
    { head: 'used ratio to redis', redis: true, cell: l => beside(l.used, l.redis?.used, l) },
    { head: 'RSS ratio to redis', redis: true, cell: l => beside(l.rss, l.redis?.rss, l) },
    { head: 'used_memory after overwrites', cell: l => l.usedAfterOverwrite === null ? '—' : mib(l.usedAfterOverwrite) }
  ], rows.flatMap(holderLines), withRedis && rows.every(row => row.redis !== null))
}

/** The string cases' loading times, fresh keys and overwrites, and Keystone's speed beside Redis's. */
export function stringsLoadTable (rows: StringsRow[], withRedis: boolean): string {
  const r = (row: StringsRow): StringsFootprint => row.redis ?? row.keystone
  const s = (seconds: number): string => seconds.toFixed(2)
  return markdownTable<StringsRow>([
    { head: 'loading string keys', text: true, cell: describeStrings },
    { head: 'keystone fresh s', cell: row => s(row.keystone.freshSeconds) },
    { head: 'redis fresh s', redis: true, cell: row => s(r(row).freshSeconds) },
    { head: 'fresh speed ratio', redis: true, cell: row => speedRatio(r(row).freshSeconds, row.keystone.freshSeconds).toFixed(2) },
    { head: 'keystone overwrite s', cell: row => s(row.keystone.overwriteSeconds) },
    { head: 'redis overwrite s', redis: true, cell: row => s(r(row).overwriteSeconds) },
    { head: 'overwrite speed ratio', redis: true, cell: row => speedRatio(r(row).overwriteSeconds, row.keystone.overwriteSeconds).toFixed(2) },
    { head: 'keystone fresh SETs/s', cell: row => int(row.keys / row.keystone.freshSeconds) }
  ], rows, withRedis && rows.every(row => row.redis !== null))
}

/**
 * The targets, met or not: for string keys of 100 bytes, RSS at most
 * 1.5 times Redis's, fresh keys loaded at least 0.6 of Redis's speed and
 * overwrites at least 0.8; a hash or set at most 2 times Redis's used_memory.
 * Checked at whatever size ran; a last line says when that is not the size
 * the targets are set for.
 */
export function memoryTargets (strings: StringsRow[], collections: CollectionRow[]): string[] {
  const out: string[] = []
  const sizes = new Set<number>()
  for (const row of strings) {
    const { redis, keystone: k } = row
    if (redis === null || row.valueSize !== TARGET_VALUE_SIZE) continue
    sizes.add(row.keys)
    const name = `${int(row.keys)} string keys of ${row.valueSize} bytes`
    out.push(`- ${name}: RSS ratio ${verdict(k.rss / redis.rss, '≤', TARGETS.rssRatio)}`)
    out.push(`- ${name}: fresh-key loading speed ratio (redis s / keystone s) ${verdict(speedRatio(redis.freshSeconds, k.freshSeconds), '≥', TARGETS.freshSpeed)}`)
    out.push(`- ${name}: overwrite speed ratio (redis s / keystone s) ${verdict(speedRatio(redis.overwriteSeconds, k.overwriteSeconds), '≥', TARGETS.overwriteSpeed)}`)
  }
  for (const { case: c, items, keystone: k, redis } of collections) {
    if (redis === null) continue
    sizes.add(items)
    out.push(`- ${describeCollection(c, items)}: used_memory ratio ${verdict(k.used / redis.used, '≤', TARGETS.collectionUsedRatio)}`)
  }
  const other = [...sizes].filter(n => n !== TARGET_ITEMS)
  if (other.length > 0) out.push(`- (the targets are set at ${int(TARGET_ITEMS)} keys, fields or members; this run had ${other.map(int).join(', ')})`)
  return out
}

/** What every figure of the section is, and how it was measured. */
export function memoryNote (result: MemoryResult): string {
  const sizes = result.strings.map(r => r.valueSize).join(', ')
  const heap = result.heap
  return [
    'Memory: each case in a fresh Keystone node (memory only; run with --expose-gc and bench/gc-signal.ts preloaded)' +
      (result.withRedis ? ' and a fresh redis-server (`--save \'\' --appendonly no`).' : '.'),
    'Hash and set: loaded through the protocol by the bench\'s own pipelined client, 1000 fields or members per HSET or SADD, two in flight; hash fields `field:<i>` → `value:<i>`, set members `member:<i>`.',
    `String keys: a file of SETs in RESP, \`key:<i, 9 digits>\` → values of exactly ${sizes} bytes ('v's ending in i's 8 digits), written once per size and loaded with \`${result.loader} --pipe\` ` +
      'into each server twice: into the empty server (fresh keys), then the same file again (every SET overwrites a key). ' +
      'Seconds from starting the loader to its exit, after the last reply; one load each; speed ratio = redis seconds / keystone seconds (above 1: Keystone faster).',
    'used_memory is INFO memory\'s: for Keystone the V8 heap in use plus external memory (Buffers), read after a full GC (SIGUSR2 to the preload, twice; ' +
      'the hash and set table\'s last column is the figure before it); for Redis what its allocator holds. B/key and B/item are the growth of used_memory from the empty server\'s, per key or item. ' +
      'RSS is VmRSS from /proc/<pid>/status, once loaded (string keys: after the fresh load). Ratios are Keystone (or the bare process) over Redis.',
    'Bare Node rows: `node --expose-gc dist/bench/bare-map.js N SIZE buffer|latin1`, one Map of the same keys and values and nothing else (no socket, no protocol): ' +
      'each key a latin1 string and each value copied out of a network-sized buffer as a server receiving it would, as a Buffer of its own (`Buffer.from(view)`, from Node\'s pool below 4 KB) ' +
      'or as a latin1 string (`view.toString(\'latin1\')`); used = heapUsed + external and RSS after two gc(); B/key from the same process\'s figures before filling. The floor V8 sets for the data.',
    ...(heap === null
      ? []
      : [`Heap snapshot: one more Keystone node loaded with ${int(heap.keys)} keys of ${TARGET_VALUE_SIZE} bytes the same way, then v8.writeHeapSnapshot (SIGURG to the preload; V8 collects garbage first); ` +
          'every object\'s self size added up by kind (strings of every representation as one row, heap numbers as one, arrays, objects and native memory by name; ' +
          '`native system / JSArrayBufferData` is Buffers\' bytes outside the heap); B/key is bytes over the keys loaded, the empty node\'s own heap included.'])
  ].join(' ')
}

/** The whole section but its heading and reproduce line: tables, targets, notes. */
export function memoryBody (result: MemoryResult, notes: string[]): string {
  const { collections, strings, heap, withRedis } = result
  const targets = withRedis ? memoryTargets(strings, collections) : []
  return [
    ...(strings.length > 0 ? [stringsMemoryTable(strings, withRedis), '', stringsLoadTable(strings, withRedis), ''] : []),
    ...(collections.length > 0 ? [collectionsTable(collections, withRedis), ''] : []),
    ...(heap === null ? [] : [heapTable(heap.groups, heap.keys), '']),
    ...(targets.length > 0 ? [...targets, ''] : []),
    ...notes.map(n => `Note: ${n}`),
    ...(notes.length > 0 ? [''] : []),
    memoryNote(result)
  ].join('\n')
}
