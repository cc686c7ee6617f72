import { getHeapSnapshot } from 'node:v8'
import t from 'tap'
import { heapGroupOf, heapTable, parseHeapSnapshot, summariseHeapSnapshot, type HeapSnapshotJson } from '../../bench/heap-summary.js'
import { memoryBody, memoryTargets, speedRatio, stringsLoadTable, stringsMemoryTable, verdict, type CollectionRow, type StringsFootprint, type StringsRow } from '../../bench/memory-report.js'
import { keyOf, valueOf } from '../../bench/pipe-load.js'

// The memory benchmark's pure parts (bench/heap-summary.ts, bench/memory-report.ts,
// bench/pipe-load.ts's keys and values): no server is started.

/** A snapshot as V8 lays it out, with the fields in an unusual order to prove they are looked up by name. */
function tinySnapshot (): HeapSnapshotJson {
  const types = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape']
  const strings = ['', 'Buffer', '(object elements)', 'system / JSArrayBufferData', 'key:000000001', 'a|b']
  const T = (name: string): number => types.indexOf(name)
  // fields: name, type, id, self_size, edge_count; type second, so node_types' second entry is the list of type names
  const node = (type: string, name: number, size: number): number[] => [name, T(type), 0, size, 0]
  return {
    snapshot: { meta: { node_fields: ['name', 'type', 'id', 'self_size', 'edge_count'], node_types: [['ignored'], types, 'number', 'number', 'number'] } },
    nodes: [
      ...node('string', 4, 32), ...node('concatenated string', 0, 32), ...node('sliced string', 0, 32),
      ...node('number', 0, 16), ...node('number', 0, 16),
      ...node('object', 1, 96), ...node('object', 1, 96), ...node('object', 1, 96),
      ...node('array', 2, 1000),
      ...node('native', 3, 8192),
      ...node('code', 4, 50), ...node('closure', 1, 40),
      ...node('object', 5, 1)
    ],
    strings
  }
}

t.test('a snapshot is summed by kind of object, biggest first', async t => {
  const groups = summariseHeapSnapshot(tinySnapshot())
  t.same(groups, [
    { group: 'native system / JSArrayBufferData', count: 1, bytes: 8192 },
    { group: 'array (object elements)', count: 1, bytes: 1000 },
    { group: 'object Buffer', count: 3, bytes: 288 },
    { group: 'strings', count: 3, bytes: 96 },
    { group: 'code', count: 1, bytes: 50 },
    { group: 'closures', count: 1, bytes: 40 },
    { group: 'heap numbers', count: 2, bytes: 32 },
    { group: 'object a|b', count: 1, bytes: 1 }
  ])
  t.equal(groups.reduce((n, g) => n + g.bytes, 0), 8192 + 1000 + 288 + 96 + 50 + 40 + 32 + 1, 'every node counted once')
})

t.test('group names', async t => {
  t.equal(heapGroupOf('sliced string', 'whatever'), 'strings')
  t.equal(heapGroupOf('number', 'heap number'), 'heap numbers')
  t.equal(heapGroupOf('array', '(internal array)'), 'array (internal array)')
  t.equal(heapGroupOf('hidden', 'system / Context'), 'hidden system / Context')
})

t.test('the table: top groups, the rest, the total, bytes per key', async t => {
  const groups = [
    { group: 'strings', count: 200, bytes: 20_000 },
    { group: 'object a|b', count: 100, bytes: 5_000 },
    { group: 'code', count: 10, bytes: 500 },
    { group: 'closures', count: 5, bytes: 100 }
  ]
  const lines = heapTable(groups, 100, 2).split('\n')
  t.equal(lines.length, 2 + 2 + 1 + 1)
  t.equal(lines[2], '| strings | 200 | 0.0 MiB | 200.0 |')
  t.equal(lines[3], '| object a\\|b | 100 | 0.0 MiB | 50.0 |', 'a | in a name is escaped')
  t.equal(lines[4], '| everything else (2 kinds) | 15 | 0.0 MiB | 6.0 |')
  t.equal(lines[5], '| total | 315 | 0.0 MiB | 256.0 |')
  t.notMatch(heapTable(groups, 100, 10), /everything else/, 'no rest row when every group is shown')
})

t.test('a real snapshot of this process parses and sums', async t => {
  let text = ''
  for await (const chunk of getHeapSnapshot()) text += String(chunk)
  const groups = summariseHeapSnapshot(parseHeapSnapshot(text))
  t.ok(groups.some(g => g.group === 'strings' && g.count > 1000), 'strings found')
  t.ok(groups.every((g, i) => i === 0 || (groups[i - 1]?.bytes ?? 0) >= g.bytes), 'biggest first')
  t.throws(() => parseHeapSnapshot('{"nodes": []}'), /not a V8 heap snapshot/)
})

t.test('keys and values of the string files', async t => {
  t.equal(keyOf(7), 'key:000000007')
  t.equal(valueOf(123, 10), 'vv00000123')
  t.equal(valueOf(123, 100).length, 100)
  t.match(valueOf(999_999, 1024), /^v{1016}00999999$/)
  t.equal(valueOf(123, 3), '123', 'digits as fit')
})

const footprint = (o: Partial<StringsFootprint>): StringsFootprint =>
  ({ emptyUsed: 1_000_000, used: 101_000_000, rss: 200_000_000, freshSeconds: 1, overwriteSeconds: 1, usedAfterOverwrite: 101_000_000, ...o })
const bare = { keys: 1_000_000, emptyRss: 40_000_000, emptyUsed: 4_000_000, rss: 150_000_000, used: 104_000_000 }

function stringsRow (valueSize: number, keystone: Partial<StringsFootprint>, redis: Partial<StringsFootprint> | null): StringsRow {
  return { keys: 1_000_000, valueSize, keystone: footprint(keystone), redis: redis === null ? null : footprint(redis), bare: { buffer: bare, latin1: bare } }
}

const collection = (c: 'hash' | 'set', keystoneUsed: number, redisUsed: number): CollectionRow => ({
  case: c,
  items: 1_000_000,
  keystone: { emptyUsed: 0, used: keystoneUsed, usedBeforeGc: keystoneUsed, rss: 0, loadSeconds: 1 },
  redis: { emptyUsed: 0, used: redisUsed, usedBeforeGc: null, rss: 0, loadSeconds: 1 }
})

t.test('ratios and verdicts', async t => {
  t.equal(speedRatio(3, 5), 0.6, 'redis seconds over keystone seconds')
  t.equal(verdict(1.5, '≤', 1.5), '1.50 (target ≤ 1.5): met')
  t.equal(verdict(1.51, '≤', 1.5), '1.51 (target ≤ 1.5): NOT met')
  t.equal(verdict(0.59, '≥', 0.6), '0.59 (target ≥ 0.6): NOT met')
})

t.test('target lines: only the 100-byte strings, and every hash and set', async t => {
  const strings = [
    stringsRow(10, { rss: 900 }, { rss: 100 }),
    stringsRow(100, { rss: 150, freshSeconds: 5, overwriteSeconds: 5 }, { rss: 100, freshSeconds: 3, overwriteSeconds: 3.9 }),
    stringsRow(1024, { rss: 900 }, { rss: 100 })
  ]
  t.same(memoryTargets(strings, [collection('hash', 200, 100), collection('set', 201, 100)]), [
    '- 1,000,000 string keys of 100 bytes: RSS ratio 1.50 (target ≤ 1.5): met',
    '- 1,000,000 string keys of 100 bytes: fresh-key loading speed ratio (redis s / keystone s) 0.60 (target ≥ 0.6): met',
    '- 1,000,000 string keys of 100 bytes: overwrite speed ratio (redis s / keystone s) 0.78 (target ≥ 0.8): NOT met',
    '- one hash of 1,000,000 fields: used_memory ratio 2.00 (target ≤ 2): met',
    '- one set of 1,000,000 members: used_memory ratio 2.01 (target ≤ 2): NOT met'
  ])
  t.same(memoryTargets([stringsRow(100, {}, null)], []), [], 'no Redis, no targets')
  const small = { ...stringsRow(100, {}, {}), keys: 20_000 }
  t.match(memoryTargets([small], []).at(-1), /set at 1,000,000 keys, fields or members; this run had 20,000/)
})

t.test('tables with and without Redis', async t => {
  const rows = [stringsRow(100, { used: 201_000_000, rss: 300_000_000, freshSeconds: 2 }, { rss: 150_000_000 })]
  const memory = stringsMemoryTable(rows, true).split('\n')
  t.equal(memory.length, 2 + 4, 'keystone, redis and two bare rows')
  t.match(memory[2], /^\| 1,000,000 keys × 100 B \| keystone \| 191\.7 MiB \| 200 \| 286\.1 MiB \| 1\.99 \| 2\.00 \| 96\.3 MiB \|$/)
  t.match(memory[3], /\| redis \|.*\| — \| — \|/)
  t.match(memory[4], /\| bare Node: Map → Buffer \| 99\.2 MiB \| 100 \| 143\.1 MiB \| 1\.03 \| 1\.00 \| — \|$/)
  t.match(stringsLoadTable(rows, true), /\| 1,000,000 keys × 100 B \| 2\.00 \| 1\.00 \| 0\.50 \| 1\.00 \| 1\.00 \| 1\.00 \| 500,000 \|/)

  const alone = [stringsRow(100, {}, null)]
  t.notMatch(stringsMemoryTable(alone, false), /redis/)
  t.notMatch(stringsLoadTable(alone, false), /redis/)
  const body = memoryBody({ collections: [], strings: alone, heap: null, loader: 'keystone-cli', withRedis: false }, ['redis-server not found'])
  t.match(body, /Note: redis-server not found/)
  t.match(body, /loaded with `keystone-cli --pipe`/)
  t.notMatch(body, /target/)
})
