import t from 'tap'
import fc from 'fast-check'
import { HybridClock } from '../../lib/store/clock.js'
import { decodeState, encodeState } from '../../lib/store/counter-codec.js'
import type { Contribution } from '../../lib/store/counter.js'
import { Digest, keyHash } from '../../lib/store/digest.js'
import { HASH_VALUE, type Entry } from '../../lib/store/entry.js'
import { decodeHash, hashBytes } from '../../lib/store/hash-codec.js'
import { cutField, fieldOf, fieldValue, joinField, present, sameField, type Field, type HashState } from '../../lib/store/hash.js'
import { Store } from '../../lib/store/store.js'

// PROTOCOL.md §Hashes: the field join is a join (commutative, associative,
// idempotent); replicas that exchange only the fields each write changed, in
// any order and any number of times, end identical; the merge rule's cases.

const T0 = 1_700_000_000_000

// ---- the field join ----

/** A field as some history could make it: a version names one write, so its value follows from it. */
const arbContribution = (node: string): fc.Arbitrary<Contribution> => fc.integer({ min: 1, max: 4 }).map(w => ({
  node, epochWall: 1, epochLogical: 0, wall: w, logical: 0, total: w, ftotal: 0
}))
const arbContribs = fc.tuple(fc.option(arbContribution('a')), fc.option(arbContribution('b')))
  .map(cs => cs.filter((c): c is Contribution => c !== null))
const arbHashField: fc.Arbitrary<Field> = fc.record({
  wall: fc.integer({ min: 1, max: 3 }),
  node: fc.constantFrom('a', 'b'),
  removedAt: fc.option(fc.integer({ min: 4, max: 6 })),
  contribs: arbContribs,
  seen: arbContribs
}).map(r => ({
  wall: r.wall,
  logical: 0,
  node: r.node,
  state: { base: r.removedAt === null ? Buffer.from(`v${r.wall}${r.node}`) : null, contribs: r.contribs, seen: r.seen },
  removed: r.removedAt === null ? null : { wall: r.removedAt, logical: 0, node: 'c' }
}))
/** A set's member (PROTOCOL.md §Sets): no base, adds as contributions (a first add of 1 at version 1 is a one-add record). */
const arbMember: fc.Arbitrary<Field> = fc.record({
  removedAt: fc.option(fc.integer({ min: 4, max: 6 })),
  contribs: arbContribs,
  seen: fc.option(arbContribs)
}).map(r => ({
  wall: 0,
  logical: 0,
  node: '-',
  state: { base: null, contribs: r.contribs, seen: r.removedAt === null ? [] : r.seen ?? r.contribs },
  removed: r.removedAt === null ? null : { wall: r.removedAt, logical: 0, node: 'c' }
}))
const arbField: fc.Arbitrary<Field> = fc.oneof(arbHashField, arbMember)

/** The same field in the form the store keeps it (hash.ts fieldOf: a plain base, one add, or the general form). */
function asStored (f: Field): Field {
  return fieldOf(f, f.state, f.removed)
}

/** The digest of one hash holding `f` as field 'f'. */
function digestOf (f: Field): string {
  const d = new Digest()
  d.change(keyHash('h'), undefined, { wall: 1, logical: 0, node: 'a', hash: { fields: new Map([['f', f]]), live: present(f) ? 1 : 0, cut: null, set: false } })
  return d.rootHex()
}

/** A field's bytes: equal bytes, equal fields. */
function bytesOf (f: Field): string {
  return hashBytes({ fields: new Map([['f', f]]), live: present(f) ? 1 : 0, cut: null, set: false }).toString('hex')
}

t.test('a field kept in a small form (a plain base, one add) is the same field: same bytes, digest, joins, value', async t => {
  fc.assert(fc.property(arbField, arbField, (a, b) => {
    const p = asStored(a)
    if (bytesOf(p) !== bytesOf(a) || digestOf(p) !== digestOf(a)) return false
    if (bytesOf(joinField(p, b)) !== bytesOf(joinField(a, b)) || bytesOf(joinField(b, p)) !== bytesOf(joinField(b, a))) return false
    if (bytesOf(joinField(p, asStored(b))) !== bytesOf(joinField(a, b))) return false
    return present(p) === present(a) && String(fieldValue(p)) === String(fieldValue(a)) && sameField(p, a)
  }), { numRuns: 2000 })
  t.pass('2000 pairs')
})

t.test('the field join is commutative, associative and idempotent', async t => {
  fc.assert(fc.property(arbField, arbField, arbField, (a, b, c) => {
    if (bytesOf(joinField(a, b)) !== bytesOf(joinField(b, a))) return false
    if (bytesOf(joinField(joinField(a, b), c)) !== bytesOf(joinField(a, joinField(b, c)))) return false
    return bytesOf(joinField(a, a)) === bytesOf(a)
  }), { numRuns: 2000 })
  t.pass('2000 triples')
})

t.test('a cut commutes with the join: before or after a merge, the same field', async t => {
  const show = (f: Field | undefined): string => f === undefined ? 'gone' : bytesOf(f)
  const join = (a: Field | undefined, b: Field | undefined): Field | undefined => a === undefined ? b : b === undefined ? a : joinField(a, b)
  fc.assert(fc.property(arbField, arbField, fc.integer({ min: 0, max: 5 }), (a, b, w) => {
    const cut = { wall: w, logical: 0, node: 'b' }
    return show(cutField(joinField(a, b), cut)) === show(join(cutField(a, cut), cutField(b, cut)))
  }), { numRuns: 2000 })
  t.pass('2000 pairs')
})

// ---- replicas ----

interface Message { key: string, bytes: Buffer | null, entry: Entry }

/** What a peer would get for a write: a hash's changed fields (encoded and decoded), or the whole entry. */
function wire (key: string, entry: Entry, fields: readonly string[] | undefined): Message {
  const copy: Entry = { value: entry.value === null ? null : Buffer.from(entry.value), expiresAt: entry.expiresAt, wall: entry.wall, logical: entry.logical, node: entry.node }
  if (entry.counter !== undefined) {
    const state = decodeState(encodeState(entry.counter))
    if (typeof state === 'string') throw new Error(state)
    copy.counter = state
    copy.value = state.base
  }
  return { key, bytes: entry.hash === undefined ? null : hashBytes(entry.hash, fields ?? null), entry: copy }
}

function unwire (m: Message): Entry {
  const entry: Entry = { ...m.entry }
  if (m.bytes !== null) {
    const hash = decodeHash(m.bytes)
    if (typeof hash === 'string') throw new Error(hash)
    entry.hash = hash
    entry.value = hash.live > 0 ? HASH_VALUE : null
  }
  return entry
}

function replica (id: string, clock: { now: number }, outbox?: Message[]): Store {
  const store = new Store({ nodeId: id, clock: new HybridClock({ now: () => clock.now }), tombstoneGraceMs: 1000 })
  if (outbox !== undefined) store.onWrite((key, entry, local, fields) => { if (local) outbox.push(wire(key, entry, fields)) })
  return store
}

/** A key as clients see it: its fields and values sorted, or its string value. */
function view (s: Store, key: string): string {
  const e = s.get(key)
  if (e === undefined) return 'none'
  if (e.hash === undefined) return `string ${e.value?.toString('latin1') ?? ''}`
  const pairs: string[] = []
  for (const [name, f] of e.hash.fields) if (present(f)) pairs.push(`${name}=${fieldValue(f)?.toString('latin1') ?? ''}`)
  return `${e.hash.set ? 'set' : 'hash'} ${e.hash.live} ${pairs.sort().join(',')}`
}

function hgetall (s: Store, key: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, f] of s.get(key)?.hash?.fields ?? []) if (present(f)) out[name] = fieldValue(f)?.toString() ?? ''
  return out
}

/** The digest of the store's entries, computed from nothing. */
function recomputed (store: Store): string {
  const d = new Digest()
  store.forEachEntry((key, entry) => d.change(keyHash(key), undefined, entry))
  return d.rootHex()
}

type HOp =
  | { op: 'hset', at: number, key: number, field: number, value: string }
  | { op: 'hdel', at: number, key: number, fields: number[] }
  | { op: 'del', at: number, key: number }
  | { op: 'hincr', at: number, key: number, field: number, delta: number }
  | { op: 'set', at: number, key: number, value: string }
  | { op: 'sadd', at: number, key: number, members: number[] }
  | { op: 'srem', at: number, key: number, members: number[] }
  | { op: 'deliver', message: number, to: number }

const arbHOp: fc.Arbitrary<HOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('hset' as const), at: fc.nat(2), key: fc.nat(2), field: fc.nat(4), value: fc.constantFrom('x', 'y', '7') }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hdel' as const), at: fc.nat(2), key: fc.nat(2), fields: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), at: fc.nat(2), key: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hincr' as const), at: fc.nat(2), key: fc.nat(2), field: fc.nat(4), delta: fc.integer({ min: -2, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(2), key: fc.nat(2), value: fc.constantFrom('s', 't') }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sadd' as const), at: fc.nat(2), key: fc.nat(2), members: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('srem' as const), at: fc.nat(2), key: fc.nat(2), members: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('deliver' as const), message: fc.nat(), to: fc.nat(2) }) }
)

t.test('property: three replicas writing strings, hashes and sets on the same keys, exchanging only changed fields, in any order, with repeats, end identical', async t => {
  fc.assert(fc.property(fc.array(arbHOp, { maxLength: 80 }), fc.integer(), (ops, seed) => {
    const clock = { now: T0 }
    const outbox: Message[] = []
    const stores = ['node-a', 'node-b', 'node-c'].map(id => replica(id, clock, outbox))
    for (const o of ops) {
      clock.now += 1
      if (o.op === 'deliver') {
        if (outbox.length > 0) stores[o.to]?.merge((outbox[o.message % outbox.length] as Message).key, unwire(outbox[o.message % outbox.length] as Message))
        continue
      }
      const s = stores[o.at] as Store
      const key = `h${o.key}`
      const kind = s.get(key)
      // The commands' type checks: a hash command on a string or set, a set command on a string or hash, is refused (WRONGTYPE).
      const setOp = o.op === 'sadd' || o.op === 'srem'
      if (o.op !== 'set' && o.op !== 'del' && kind !== undefined && (kind.hash === undefined || kind.hash.set !== setOp)) continue
      switch (o.op) {
        case 'hset': s.hset(key, [[`f${o.field}`, Buffer.from(o.value)]]); break
        case 'hdel': s.hdel(key, o.fields.map(f => `f${f}`)); break
        case 'del': s.delete(key); break
        case 'hincr':
          try {
            s.hincrement(key, `f${o.field}`, o.delta, 0, v => { if (v !== null && !/^-?\d+$/.test(v.toString())) throw new Error('not an integer') })
          } catch {}
          break
        case 'set': s.set(key, Buffer.from(o.value)); break
        case 'sadd': s.sadd(key, o.members.map(m => `f${m}`)); break
        case 'srem': s.hdel(key, o.members.map(m => `f${m}`)); break
      }
    }
    // Everything reaches everyone, in a shuffled order, some twice.
    const all = outbox.slice()
    let r = seed
    const rand = (n: number): number => { r = (Math.imul(r, 1103515245) + 12345) | 0; return Math.abs(r) % n }
    for (const s of stores) {
      const order = all.map((m, i) => [rand(1000), i] as const).sort((x, y) => x[0] - y[0]).map(([, i]) => all[i] as Message)
      for (const m of order) s.merge(m.key, unwire(m))
      for (let i = 0; i < 5 && all.length > 0; i++) { const m = all[rand(all.length)] as Message; s.merge(m.key, unwire(m)) }
    }
    const [a, b, c] = stores as [Store, Store, Store]
    for (const k of ['h0', 'h1', 'h2']) {
      if (view(a, k) !== view(b, k) || view(b, k) !== view(c, k)) throw new Error(`${k}: ${view(a, k)} | ${view(b, k)} | ${view(c, k)}`)
    }
    if (a.digest.rootHex() !== b.digest.rootHex() || b.digest.rootHex() !== c.digest.rootHex()) throw new Error('digests differ')
    return recomputed(a) === a.digest.rootHex()
  }), { numRuns: Number(process.env.KEYSTONE_STORE_RUNS ?? 1000) })
  t.pass(`${process.env.KEYSTONE_STORE_RUNS ?? 1000} histories`)
})

// ---- the rule, case by case ----

function pair (): { a: Store, b: Store, clock: { now: number }, toB: () => void, toA: () => void } {
  const clock = { now: T0 }
  const fromA: Message[] = []
  const fromB: Message[] = []
  const a = replica('node-a', clock, fromA)
  const b = replica('node-b', clock, fromB)
  const flush = (from: Message[], to: Store): void => { for (const m of from.splice(0)) to.merge(m.key, unwire(m)) }
  return { a, b, clock, toB: () => flush(fromA, b), toA: () => flush(fromB, a) }
}

t.test('different fields written on each side both survive', async t => {
  const { a, b, toA, toB } = pair()
  a.hset('h', [['f1', Buffer.from('a')]])
  b.hset('h', [['f2', Buffer.from('b')]])
  toA(); toB()
  t.same(hgetall(a, 'h'), { f1: 'a', f2: 'b' })
  t.same(hgetall(b, 'h'), { f1: 'a', f2: 'b' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('HDEL removes what it had seen; a concurrent HSET of the field survives', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.hset('h', [['f', Buffer.from('1')], ['g', Buffer.from('1')]])
  toB()
  clock.now += 5
  t.equal(a.hdel('h', ['f', 'g']), 2)
  b.hset('h', [['f', Buffer.from('2')]]) // B had seen f = 1, not the HDEL
  toA(); toB()
  t.same(hgetall(a, 'h'), { f: '2' })
  t.same(hgetall(b, 'h'), { f: '2' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('an HSET older than the base HDEL removed stays removed', async t => {
  const { a, b, clock, toA, toB } = pair()
  b.hset('h', [['f', Buffer.from('old')]]) // concurrent with, and older than, A's f = new
  clock.now += 5
  a.hset('h', [['f', Buffer.from('new')], ['g', Buffer.from('1')]])
  a.hdel('h', ['f'])
  toB(); toA()
  t.same(hgetall(a, 'h'), { g: '1' })
  t.same(hgetall(b, 'h'), { g: '1' })
})

t.test('DEL of a hash removes the fields it had seen; one set concurrently survives', async t => {
  const { a, b, toA, toB } = pair()
  a.hset('h', [['f1', Buffer.from('a')], ['f2', Buffer.from('b')]])
  toB()
  t.equal(a.delete('h'), true)
  t.equal(a.get('h'), undefined)
  b.hset('h', [['f3', Buffer.from('c')]])
  toA(); toB()
  t.same(hgetall(a, 'h'), { f3: 'c' })
  t.same(hgetall(b, 'h'), { f3: 'c' })
})

t.test('HINCRBY at two nodes adds up; an HSET replaces what it had seen', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.hincrement('h', 'n', 2, 0, () => {})
  b.hincrement('h', 'n', 3, 0, () => {})
  toA(); toB()
  t.same(hgetall(a, 'h'), { n: '5' })
  t.same(hgetall(b, 'h'), { n: '5' })
  clock.now += 5
  a.hset('h', [['n', Buffer.from('100')]])
  b.hincrement('h', 'n', 1, 0, () => {}) // not seen by A's HSET
  toA(); toB()
  t.same(hgetall(a, 'h'), { n: '101' })
  t.same(hgetall(b, 'h'), { n: '101' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('one key, two types: a string cuts the fields written before it, on every node', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.hset('k', [['f', Buffer.from('1')]])
  toB()
  clock.now += 5
  a.hset('k', [['g', Buffer.from('2')]]) // before B's SET, not seen by it
  clock.now += 5
  b.set('k', Buffer.from('s'))
  toA(); toB()
  t.equal(a.get('k')?.value?.toString(), 's', 'no field newer than the SET: the string has the key')
  t.equal(b.get('k')?.value?.toString(), 's')
  t.equal(a.get('k')?.hash, undefined)
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  clock.now += 5
  a.hset('k', [['h', Buffer.from('3')]]) // a hash over the string: its fields are newer
  toB()
  t.same(hgetall(b, 'k'), { h: '3' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('one key, two types: a field written after a concurrent SET keeps the key a hash, with that field alone', async t => {
  const { a, b, clock, toA, toB } = pair()
  const c = replica('node-c', clock)
  a.hset('k', [['f', Buffer.from('1')]])
  toB()
  clock.now += 5
  b.set('k', Buffer.from('s')) // has seen f
  const fromB = b.peek('k') as Entry
  clock.now += 5
  a.hset('k', [['g', Buffer.from('2')]]) // has not seen the SET
  const fromA = { ...(a.peek('k') as Entry), hash: decodeHash(hashBytes(a.peek('k')?.hash as HashState)) as HashState }
  c.merge('k', fromA) // the hash first here, the string first at A and B
  c.merge('k', { ...fromB, value: Buffer.from('s') })
  toA(); toB()
  for (const s of [a, b, c]) t.same(hgetall(s, 'k'), { g: '2' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(b.digest.rootHex(), c.digest.rootHex())
})

t.test('a concurrent EXPIRE and field write both apply', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.hset('h', [['f', Buffer.from('1')]])
  toB()
  t.equal(a.setExpiry('h', clock.now + 100_000), true)
  b.hset('h', [['g', Buffer.from('2')]])
  toA(); toB()
  t.same(hgetall(a, 'h'), { f: '1', g: '2' })
  t.same(hgetall(b, 'h'), { f: '1', g: '2' })
  t.equal(b.get('h')?.expiresAt, T0 + 100_000)
  clock.now += 100_001
  t.equal(a.get('h'), undefined, 'what was written before the expiry goes')
  t.equal(b.get('h'), undefined)
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('an HDEL that empties a hash with an expiry deletes the key and its expiry', async t => {
  const { a, clock } = pair()
  a.hset('h', [['f', Buffer.from('1')]])
  a.setExpiry('h', clock.now + 100_000)
  a.hdel('h', ['f'])
  a.hset('h', [['g', Buffer.from('2')]])
  t.equal(a.get('h')?.expiresAt, 0)
})

t.test('removals are collected once their stamp is stable for the grace; the emptied hash goes too', async t => {
  const { a, b, clock, toB } = pair()
  a.hset('h', [['f', Buffer.from('1')], ['g', Buffer.from('1')]])
  a.hdel('h', ['f'])
  toB()
  t.equal(a.peek('h')?.hash?.fields.size, 2, 'the removal record is kept')
  a.setStable('node-a', { wall: clock.now + 10, logical: 0 })
  b.setStable('node-a', { wall: clock.now + 10, logical: 0 })
  clock.now += 1001
  a.collectTombstones(100)
  b.collectTombstones(100)
  t.equal(a.peek('h')?.hash?.fields.size, 1, 'the record went')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(recomputed(a), a.digest.rootHex())
  // The removal arriving again once collectable is not taken back.
  const again = replica('node-c', clock)
  again.setStable('node-a', { wall: clock.now - 2000, logical: 0 })
  a.delete('h')
  a.setStable('node-a', { wall: clock.now + 10, logical: 0 })
  clock.now += 1001
  a.collectTombstones(100)
  a.collectTombstones(100)
  t.equal(a.peek('h'), undefined, 'a hash with no field left is collected as a tombstone')
  t.equal(a.digest.rootHex(), '0000000000000000')
})

t.test('hash states: whole and partial encodings round-trip; damage is reported, not thrown', async t => {
  const { a } = pair()
  a.hset('h', [['f', Buffer.from('1')], ['g', Buffer.from('x'.repeat(300))]])
  a.hincrement('h', 'n', 5, 0, () => {})
  a.hdel('h', ['f'])
  const hash = a.peek('h')?.hash as HashState
  const whole = decodeHash(hashBytes(hash))
  t.not(typeof whole, 'string')
  t.equal(hashBytes(whole as HashState).toString('hex'), hashBytes(hash).toString('hex'))
  t.equal((whole as HashState).live, 2)
  const part = decodeHash(hashBytes(hash, ['n', 'missing']))
  t.same([...(part as HashState).fields.keys()], ['n'])
  const bytes = hashBytes(hash)
  for (let cut = 0; cut < bytes.length; cut++) t.equal(typeof decodeHash(bytes.subarray(0, cut)), 'string', `cut at ${cut}`)
  t.equal(decodeHash(Buffer.concat([bytes, Buffer.from([0])])), 'trailing bytes after the hash')
})

t.test('fields sent as one record decode to records of their own when increments may change them in place', async t => {
  // hash.ts ownFieldContribution: a general record's contribution changes in
  // place, as a OneContribution's does, so two fields must never share one (a
  // OneAdd may: it never changes).
  const mine = { node: 'node-a', epochWall: T0, epochLogical: 0, wall: T0 + 1, logical: 0, total: 2, ftotal: 0 }
  const general = fieldOf({ wall: 0, logical: 0, node: '-' }, {
    base: null,
    contribs: [mine, { ...mine, node: 'node-b', total: 5 }],
    seen: []
  }, null)
  const oneContribution = fieldOf({ wall: 0, logical: 0, node: '-' }, { base: null, contribs: [mine], seen: [] }, null)
  const oneAdd = fieldOf({ wall: 0, logical: 0, node: '-' }, {
    base: null,
    contribs: [{ node: 'node-a', epochWall: T0, epochLogical: 0, wall: T0, logical: 0, total: 1, ftotal: 0 }],
    seen: []
  }, null)
  const sent: HashState = {
    fields: new Map([['a', general], ['b', general], ['c', oneAdd], ['d', oneAdd], ['e', oneContribution], ['f', oneContribution]]),
    live: 6,
    cut: null,
    set: true
  }
  const got = decodeHash(hashBytes(sent)) as HashState
  const [a, b, c, d, e, f] = ['a', 'b', 'c', 'd', 'e', 'f'].map(n => got.fields.get(n) as Field)
  t.not(a, b, 'a general record is copied for the second field')
  t.not(a?.state.contribs[0], b?.state.contribs[0], 'its contributions too')
  t.same(b?.state, a?.state, 'with the same state')
  t.equal(c, d, 'a OneAdd is shared')
  t.not(e, f, 'a OneContribution is copied')
  t.not(e?.state.contribs[0], f?.state.contribs[0], 'its contribution too')
  t.same(f?.state, e?.state, 'with the same state')
  const { a: store } = pair()
  store.merge('s', { value: HASH_VALUE, wall: T0, logical: 0, node: 'node-b', expiresAt: 0, hash: got })
  store.sadd('s', ['a', 'e'])
  const valueIn = (name: string): string => String(fieldValue(store.peek('s')?.hash?.fields.get(name) as Field))
  t.equal(valueIn('a'), '8', 'an add to one member goes into its record')
  t.equal(valueIn('b'), '7', 'and changes nothing of the other')
  t.equal(valueIn('e'), '3', 'the same for a member of one contribution')
  t.equal(valueIn('f'), '2')
  const again = store.peek('s')?.hash?.fields.get('e') as Field
  store.sadd('s', ['e'])
  t.equal(store.peek('s')?.hash?.fields.get('e'), again, 'whose record takes later adds in place')
  t.equal(valueIn('e'), '4')
  // Another node's add to it is a contribution of its own, in a new record: the first one's is not changed.
  const { b: other } = pair()
  other.merge('s', { value: HASH_VALUE, wall: T0, logical: 0, node: 'node-b', expiresAt: 0, hash: decodeHash(hashBytes(sent)) as HashState })
  const before = other.peek('s')?.hash?.fields.get('e') as Field
  const counted = before.state.contribs[0]
  other.sadd('s', ['e'])
  const after = other.peek('s')?.hash?.fields.get('e') as Field
  t.not(after, before, "another node's add makes a new record")
  t.same(after.state.contribs.map(c => [c.node, c.total]), [['node-a', 2], ['node-b', 1]])
  t.equal(counted?.total, 2, "and leaves node-a's contribution as it was")
})

t.test('a write to one field replicates that field alone', async t => {
  const clock = { now: T0 }
  const out: Message[] = []
  const a = replica('node-a', clock, out)
  const pairs: Array<[string, Buffer]> = []
  for (let i = 0; i < 10_000; i++) pairs.push([`field:${i}`, Buffer.from(`value:${i}`)])
  a.hset('big', pairs)
  out.length = 0
  a.hset('big', [['field:77', Buffer.from('changed')]])
  t.equal(out.length, 1)
  const size = (out[0] as Message).bytes?.length ?? 0
  t.ok(size < 100, `one field's record is ${size} bytes`)
  const before = a.digest.rootHex()
  a.hset('big', [['field:77', Buffer.from('again')]])
  t.not(a.digest.rootHex(), before)
  t.equal(recomputed(a), a.digest.rootHex(), 'the digest kept field by field equals the one from scratch')
})

t.test('a hash re-created after its expiry: the expired fields do not come back at a node that had not read it', async t => {
  // A write made after the expiry (no expiry of its own) merged into the copy
  // not yet reclaimed must not carry the expired fields on (store.mergeEntry
  // reclaims first; here the re-creation's cut alone also removes them).
  const { a, b, clock, toA, toB } = pair()
  a.hset('h', [['old', Buffer.from('1')]])
  t.equal(a.setExpiry('h', clock.now + 1000), true)
  toB()
  clock.now += 1001
  t.equal(a.get('h'), undefined, 'expired at a, which read it')
  a.hset('h', [['new', Buffer.from('2')]]) // the key again, without an expiry
  toB() // b has not read h since its expiry
  t.same(hgetall(b, 'h'), { new: '2' }, 'the expired field is not back at b')
  toA()
  t.same(hgetall(a, 'h'), { new: '2' })
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('hash states from a peer: impossible versions, ids and flags are refused', async t => {
  const { a } = pair()
  a.hset('h', [['f', Buffer.from('1')]])
  const good = hashBytes(a.peek('h')?.hash as HashState)
  t.not(typeof decodeHash(good), 'string')
  // One field with a base of one byte: flags, then its version (id index, wall, logical), then the value.
  const flagsAt = good.length - 5 - 14 - 1
  const damaged = (change: (b: Buffer) => void): string | HashState => {
    const b = Buffer.from(good)
    change(b)
    return decodeHash(b)
  }
  t.equal(damaged(b => b.writeDoubleLE(NaN, flagsAt + 3)), 'a bad version', 'a NaN wall')
  t.equal(damaged(b => b.writeDoubleLE(-5, flagsAt + 3)), 'a bad version', 'a negative wall')
  t.equal(damaged(b => b.writeDoubleLE(1.5, flagsAt + 3)), 'a bad version', 'a fractional wall')
  const top = damaged(b => b.writeUInt32LE(0xffffffff, flagsAt + 11))
  t.equal(typeof top === 'string' ? top : top.fields.size, 1, 'a logical at its 32-bit maximum is a version (a write after it takes the next ms)')
  t.equal(damaged(b => { b[flagsAt] = 16 }), 'bad field flags', 'an unknown flag')
  t.equal(damaged(b => { b[flagsAt] = 8 }), 'the first field has no record before it', '"the same record as the field before", first')
  t.equal(damaged(b => { b[flagsAt] = 6 }), 'bad field flags', 'a counter and a base at once')
  t.equal(damaged(b => { b[4] = 0x20 }), 'a bad node id', 'a node id with a space')
})

// ---- sets (PROTOCOL.md §Sets): a hash whose members are fields made of adds ----

function smembers (s: Store, key: string): string[] {
  const e = s.get(key)
  if (e?.hash?.set !== true) return []
  return [...e.hash.fields].filter(([, f]) => present(f)).map(([name]) => name).sort()
}

t.test('sets: an SREM takes away the adds it had seen; an SADD it had not seen survives (add wins)', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.sadd('s', ['x', 'y'])
  toB()
  clock.now += 5
  b.hdel('s', ['x']) // SREM s x, having seen A's add
  a.sadd('s', ['x']) // concurrently: x was present, and is added again
  toA(); toB()
  t.same(smembers(a, 's'), ['x', 'y'])
  t.same(smembers(b, 's'), ['x', 'y'])
  clock.now += 5
  a.hdel('s', ['x'])
  toB()
  t.same(smembers(b, 's'), ['y'], 'an SREM that saw every add removes the member everywhere')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(recomputed(a), a.digest.rootHex())
})

t.test('sets: an add concurrent with a removal survives whatever the clocks say', async t => {
  // A's clock runs ahead: its add is newer than anything B does, B's older than the add A's removal saw.
  const clock = { now: T0 }
  const fromA: Message[] = []
  const fromB: Message[] = []
  const a = replica('node-a', { get now () { return clock.now + 10_000 } }, fromA)
  const b = replica('node-b', clock, fromB)
  a.sadd('s', ['m'])
  b.sadd('s', ['m']) // B has not seen A's add; its add has the older version
  const c = replica('node-c', clock)
  for (const m of fromA.splice(0)) c.merge(m.key, unwire(m))
  c.hdel('s', ['m']) // C saw A's add only
  const removal = c.peek('s') as Entry
  const fromC = wire('s', removal, ['m'])
  for (const s of [a, b]) s.merge('s', unwire(fromC))
  for (const m of fromB.splice(0)) { a.merge(m.key, unwire(m)); c.merge(m.key, unwire(m)) }
  for (const s of [a, b, c]) t.same(smembers(s, 's'), ['m'], "B's add was seen by no removal")
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(b.digest.rootHex(), c.digest.rootHex())
})

t.test('sets: DEL removes the members it had seen; one added concurrently is the set', async t => {
  const { a, b, clock, toA, toB } = pair()
  a.sadd('s', ['x', 'y'])
  toB()
  clock.now += 5
  a.delete('s')
  b.sadd('s', ['z'])
  toA(); toB()
  t.same(smembers(a, 's'), ['z'])
  t.same(smembers(b, 's'), ['z'])
})

t.test('sets: a set and a hash at one key: the side with the newer write keeps it, on every node, in any order', async t => {
  for (const setLater of [true, false]) {
    const { a, b, clock, toA, toB } = pair()
    const c = replica('node-c', clock)
    if (setLater) { a.hset('k', [['f', Buffer.from('1')]]); clock.now += 5; b.sadd('k', ['m']) } else { b.sadd('k', ['m']); clock.now += 5; a.hset('k', [['f', Buffer.from('1')]]) }
    const fromA = wire('k', a.peek('k') as Entry, undefined)
    const fromB = wire('k', b.peek('k') as Entry, undefined)
    c.merge('k', unwire(fromB))
    c.merge('k', unwire(fromA))
    toA(); toB()
    for (const s of [a, b, c]) t.equal(view(s, 'k'), setLater ? 'set 1 m=1' : 'hash 1 f=1', `${setLater ? 'the set' : 'the hash'} is newer`)
    t.equal(a.digest.rootHex(), b.digest.rootHex())
    t.equal(b.digest.rootHex(), c.digest.rootHex())
    t.equal(recomputed(c), c.digest.rootHex())
  }
})

t.test('sets: SADD on a key whose hash was deleted starts a set above everything the hash held', async t => {
  const { a, b, clock, toB } = pair()
  a.hset('k', [['f', Buffer.from('1')]])
  a.delete('k')
  clock.now += 5
  a.sadd('k', ['m'])
  toB()
  t.equal(view(a, 'k'), 'set 1 m=1')
  t.equal(view(b, 'k'), 'set 1 m=1')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('sets: a set state round-trips as format 3, and removals are collected once stable', async t => {
  const { a, b, clock, toB } = pair()
  a.sadd('s', ['x', 'y'])
  const bytes = hashBytes(a.peek('s')?.hash as HashState)
  t.equal(bytes[0], 3)
  const back = decodeHash(bytes) as HashState
  t.equal(back.set, true)
  t.equal(back.live, 2)
  a.hdel('s', ['x'])
  toB()
  t.equal(b.peek('s')?.hash?.fields.size, 2, 'the removal is kept')
  for (const s of [a, b]) s.setStable('node-a', { wall: clock.now + 10, logical: 0 })
  clock.now += 1001
  a.collectTombstones(100)
  b.collectTombstones(100)
  t.equal(b.peek('s')?.hash?.fields.size, 1, 'the removed member and the adds it saw went')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(recomputed(b), b.digest.rootHex())
})

t.test('an expiry applied again by a copy of its write takes the fields it expires out of the count too (the simulator, seed 800545)', async t => {
  const clock = { now: T0 }
  const fromA: Message[] = []
  const a = replica('node-a', clock, fromA)
  const b = replica('node-b', clock)
  a.hset('h', [['f', Buffer.from('1')]])
  const hsetMessage = fromA[0] as Message
  a.setExpiry('h', clock.now + 100)
  const expireMessage = fromA[1] as Message
  for (const m of fromA) b.merge(m.key, unwire(m))
  clock.now += 200
  t.equal(b.get('h'), undefined, 'expired at B: its field went, and the expiry with it')
  b.merge(hsetMessage.key, unwire(hsetMessage)) // the field again, by an older key version: B keeps it (it no longer knows the expiry)
  b.merge(expireMessage.key, unwire(expireMessage)) // the expiry again: the field goes again
  const e = b.peek('h')
  t.equal(e?.hash?.live, 0)
  t.equal(e?.value ?? null, null, 'no field present: the key is not live')
  t.equal(b.get('h'), undefined)
  t.equal(recomputed(b), b.digest.rootHex())
})

t.test('sets: the members one SADD adds share one record, here and where it is decoded; changing one leaves the others', async t => {
  const { a, b, toB } = pair()
  a.sadd('s', ['x', 'y', 'z'])
  const fields = a.peek('s')?.hash?.fields as Map<string, Field>
  t.equal(fields.get('x'), fields.get('y'), 'one record for the members of one SADD')
  toB()
  const theirs = b.peek('s')?.hash?.fields as Map<string, Field>
  t.equal(theirs.get('x'), theirs.get('z'), 'and one where it was decoded')
  a.hdel('s', ['y'])
  a.sadd('s', ['z'])
  toB()
  for (const s of [a, b]) t.same(smembers(s, 's'), ['x', 'z'])
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  t.equal(recomputed(b), b.digest.rootHex())
  t.equal(decodeHash(hashBytes(b.peek('s')?.hash as HashState, ['x'])) instanceof Object, true)
})

t.test('HINCRBY on a key whose set was deleted starts a hash holding none of the set (the review found the old member counted)', async t => {
  const { a, b, toB } = pair()
  a.sadd('k', ['f'])
  toB()
  a.delete('k')
  t.equal(a.hincrement('k', 'f', 5, 0, () => {}).toString(), '5')
  toB()
  for (const s of [a, b]) t.same(hgetall(s, 'k'), { f: '5' })
  t.equal(recomputed(a), a.digest.rootHex(), 'the digest is the one computed from nothing')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
})

t.test('an HSET or SADD naming a field more than once tells the listeners each field once, in order, past the length where the list keeps a Set too', async t => {
  const clock = { now: 1_700_000_000_000 }
  const store = replica('n1', clock)
  const told: string[][] = []
  store.onWrite((_key, _entry, local, fields) => { if (local) told.push([...(fields ?? [])]) })
  const names = Array.from({ length: 12 }, (_, i) => `m${i}`)
  // Repeats before and after the 9th name, where Changed starts keeping a Set.
  const sent = [...names.slice(0, 5), 'm0', ...names.slice(5), 'm3', 'm11', 'm7']
  t.equal(store.sadd('s', sent), 12, 'twelve members added, each once')
  t.same(told.pop(), names, 'the listeners told of each once, in the order first named')
  t.equal(store.sadd('s', ['m2', 'm2', 'new', 'm2']), 1)
  t.same(told.pop(), ['m2', 'new'])
  const pairs: Array<[string, Buffer]> = [...names.map((n, i): [string, Buffer] => [n, Buffer.from(`v${i}`)]), ['m1', Buffer.from('last')], ['m10', Buffer.from('again')]]
  t.equal(store.hset('h', pairs), 12, 'twelve fields new')
  t.same(told.pop(), names, 'each field once, in order')
  const fields = hgetall(store, 'h')
  t.same([fields.m1, fields.m10, fields.m2], ['last', 'again', 'v2'], 'the last value of a field named twice wins')
})
