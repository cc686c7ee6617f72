import { int, mib } from './format.js'

// Which objects hold a Keystone node's bytes: a V8 heap snapshot (the
// .heapsnapshot JSON that v8.writeHeapSnapshot writes) summed by kind of
// object. Pure: the memory section (bench/memory.ts) takes the snapshot and
// reads the file; this only parses and adds up, so it is tested on a tiny
// snapshot made by hand (test/bench/memory.test.ts).
//
// The format: `snapshot.meta.node_fields` names the fields of each node
// (type, name, id, self_size, edge_count, ...); `nodes` is one flat array
// of numbers, node after node, that many fields each; a node's `type` is an
// index into `snapshot.meta.node_types[0]` (the type names), its `name` an
// index into `strings`. Only nodes are read: self sizes, not what an object
// keeps alive, so the groups add up to the whole snapshot without counting
// anything twice.

/** The parts of a .heapsnapshot this summary reads. */
export interface HeapSnapshotJson {
  snapshot: { meta: { node_fields: string[], node_types: unknown[] } }
  nodes: number[]
  strings: string[]
}

export interface HeapGroup {
  /** What the objects are: 'strings', 'heap numbers', or the node's type and name. */
  group: string
  count: number
  /** Self sizes added up, bytes. */
  bytes: number
}

/** A .heapsnapshot's text parsed, checked to have the parts summariseHeapSnapshot reads. */
export function parseHeapSnapshot (text: string): HeapSnapshotJson {
  const json: unknown = JSON.parse(text)
  const s = json as Partial<HeapSnapshotJson> | null
  const meta = s?.snapshot?.meta
  if (meta === undefined || !Array.isArray(meta.node_fields) || !Array.isArray(meta.node_types) ||
      !Array.isArray(s?.nodes) || !Array.isArray(s?.strings)) {
    throw new Error('not a V8 heap snapshot: expected snapshot.meta.node_fields, snapshot.meta.node_types, nodes and strings')
  }
  return s as HeapSnapshotJson
}

/**
 * The row a node is counted in. Kinds whose names say little about memory are
 * one row each (every string, whatever its name or representation; every heap
 * number; all code); arrays, objects and native memory are told apart by name
 * ('array (object elements)', 'object Buffer', 'native system / JSArrayBufferData',
 * the last being Buffers' bytes outside the heap).
 */
export function heapGroupOf (type: string, name: string): string {
  switch (type) {
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return 'strings'
    case 'number': return 'heap numbers'
    case 'code': return 'code'
    case 'closure': return 'closures'
    case 'object shape': return 'object shapes'
    case 'regexp': return 'regexps'
    case 'symbol': return 'symbols'
    case 'bigint': return 'bigints'
    default: return name === '' ? type : `${type} ${name}`
  }
}

/** Every node's self size added up by group (heapGroupOf); biggest first. */
export function summariseHeapSnapshot (s: HeapSnapshotJson): HeapGroup[] {
  const fields = s.snapshot.meta.node_fields
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const typeNames = s.snapshot.meta.node_types[typeAt]
  if (typeAt < 0 || nameAt < 0 || sizeAt < 0 || !Array.isArray(typeNames)) {
    throw new Error('heap snapshot: node_fields lacks type, name or self_size')
  }
  const width = fields.length
  if (s.nodes.length % width !== 0) throw new Error(`heap snapshot: ${s.nodes.length} node numbers is not a whole number of ${width}-field nodes`)
  const groups = new Map<string, HeapGroup>()
  for (let at = 0; at < s.nodes.length; at += width) {
    const type = String(typeNames[s.nodes[at + typeAt] ?? -1] ?? 'unknown')
    const group = heapGroupOf(type, s.strings[s.nodes[at + nameAt] ?? -1] ?? '')
    const g = groups.get(group) ?? { group, count: 0, bytes: 0 }
    g.count++
    g.bytes += s.nodes[at + sizeAt] ?? 0
    groups.set(group, g)
  }
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes || (a.group < b.group ? -1 : 1))
}

/** Markdown cells are split on '|'; a name may hold one. */
const cell = (text: string): string => text.replace(/\|/g, '\\|')

/**
 * The `top` biggest groups as a markdown table, then the rest and the total;
 * bytes per key are each row's bytes over the keys loaded (the empty node's
 * own heap included, so small rows are not all per-key cost).
 */
export function heapTable (groups: HeapGroup[], keys: number, top = 12): string {
  const row = (g: HeapGroup): string => `| ${cell(g.group)} | ${int(g.count)} | ${mib(g.bytes)} | ${keys > 0 ? (g.bytes / keys).toFixed(1) : '—'} |`
  const sum = (name: string, gs: HeapGroup[]): HeapGroup => ({ group: name, count: gs.reduce((n, g) => n + g.count, 0), bytes: gs.reduce((n, g) => n + g.bytes, 0) })
  const rest = groups.slice(top)
  return [
    '| heap snapshot: objects by kind | count | self size | B/key |',
    '|---|---:|---:|---:|',
    ...groups.slice(0, top).map(row),
    ...(rest.length > 0 ? [row(sum(`everything else (${rest.length} kinds)`, rest))] : []),
    row(sum('total', groups))
  ].join('\n')
}
