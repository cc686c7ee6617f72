import t from 'tap'
import fc from 'fast-check'
import { HybridClock } from '../../lib/store/clock.js'
import { Digest, keyHash, LEAVES } from '../../lib/store/digest.js'
import { HASH_VALUE, type Entry } from '../../lib/store/entry.js'
import { present, type Field } from '../../lib/store/hash.js'
import { BUCKETS, Store } from '../../lib/store/store.js'
import { SMALL_VALUE_MAX } from '../../lib/store/bytes.js'
import { TombstoneLog } from '../../lib/store/tombstones.js'

// PROTOCOL.md §Digests and §Tombstones: the digest kept write by write equals
// one computed from scratch, whatever happened to the store; the same entries
// in any order give the same digest; collected tombstones leave it.

const T0 = 1_700_000_000_000

function makeStore (node = 'node-a', graceMs = 0): { store: Store, advance: (ms: number) => void } {
  let now = T0
  const store = new Store({ nodeId: node, clock: new HybridClock({ now: () => now }), tombstoneGraceMs: graceMs })
  return { store, advance: ms => { now += ms } }
}

/** The digest of the store's entries, computed from nothing. */
function recomputed (store: Store): Digest {
  const d = new Digest()
  store.forEachEntry((key, entry) => d.change(keyHash(key), undefined, entry))
  return d
}

/** Entries a cell holds (cells.ts): small plain values and tombstones, and counters only ever incremented at one node. */
function cellEntries (store: Store): number {
  let n = 0
  store.forEachEntry((_, e) => {
    const c = e.counter
    // (Keys here are short and clocks small: the limits on key length, totals and logical clocks are cells.test.ts's.)
    if (c !== undefined ? c.base === null && c.seen.length === 0 && c.contribs.length === 1 && c.contribs[0]?.ftotal === 0 : e.hash === undefined && (e.value === null || e.value.length <= SMALL_VALUE_MAX)) n++
  })
  return n
}

function sameDigest (a: Digest, b: Digest): boolean {
  return Buffer.compare(Buffer.from(a.leaves.buffer), Buffer.from(b.leaves.buffer)) === 0 &&
    Buffer.compare(Buffer.from(a.buckets.buffer), Buffer.from(b.buckets.buffer)) === 0 &&
    a.rootHex() === b.rootHex()
}

const remote = (value: string | null, wall: number, logical: number, node: string, expiresAt = 0): Entry =>
  ({ value: value === null ? null : Buffer.from(value), wall, logical, node, expiresAt })

type Op =
  | { op: 'set', key: number, value: string, ttl: number }
  | { op: 'del', key: number }
  | { op: 'incr', key: number, delta: number }
  | { op: 'merge', key: number, value: string | null, dWall: number, logical: number, node: string, ttl: number }
  | { op: 'tick', ms: number }
  | { op: 'expire' }
  | { op: 'stable', node: string, dWall: number }
  | { op: 'collect' }
  | { op: 'hset', key: number, field: number, value: string }
  | { op: 'hdel', key: number, field: number }
  | { op: 'hincr', key: number, field: number, delta: number }
  | { op: 'sadd' | 'srem', key: number, field: number }
  | { op: 'hmerge', key: number, dWall: number, node: string, ttl: number, fields: Array<{ field: number, dWall: number, node: string, value: string | null, removed: boolean }> }

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  // Values on both sides of a cell's limit (128 bytes), so keys move between cells of each size and objects.
  fc.record({ op: fc.constant('set' as const), key: fc.nat(30), value: fc.oneof(fc.string({ maxLength: 4 }), fc.string({ minLength: 120, maxLength: 136 })), ttl: fc.constantFrom(0, 0, 5, 50) }),
  fc.record({ op: fc.constant('del' as const), key: fc.nat(30) }),
  fc.record({ op: fc.constant('incr' as const), key: fc.nat(30), delta: fc.integer({ min: -3, max: 3 }) }),
  fc.record({
    op: fc.constant('merge' as const),
    key: fc.nat(30),
    value: fc.option(fc.string({ maxLength: 4 })),
    dWall: fc.integer({ min: -50, max: 50 }),
    logical: fc.nat(3),
    node: fc.constantFrom('node-b', 'node-c'),
    ttl: fc.constantFrom(0, 0, 20)
  }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.nat(30) }),
  fc.record({ op: fc.constant('expire' as const) }),
  fc.record({ op: fc.constant('stable' as const), node: fc.constantFrom('node-a', 'node-b', 'node-c'), dWall: fc.integer({ min: -60, max: 10 }) }),
  fc.record({ op: fc.constant('collect' as const) }),
  // PROTOCOL.md §Hashes: field writes, removals, increments and merges of (partial) hash states.
  fc.record({ op: fc.constant('hset' as const), key: fc.nat(30), field: fc.nat(5), value: fc.string({ maxLength: 3 }) }),
  fc.record({ op: fc.constant('hdel' as const), key: fc.nat(30), field: fc.nat(5) }),
  fc.record({ op: fc.constant('hincr' as const), key: fc.nat(30), field: fc.nat(5), delta: fc.integer({ min: -3, max: 3 }) }),
  // PROTOCOL.md §Sets: adds (again and again: an add of a member this node added goes into its record in place) and removals.
  fc.record({ op: fc.constantFrom('sadd' as const, 'sadd' as const, 'srem' as const), key: fc.nat(1), field: fc.nat(2) }),
  fc.record({
    op: fc.constant('hmerge' as const),
    key: fc.nat(30),
    dWall: fc.integer({ min: -50, max: 50 }),
    node: fc.constantFrom('node-b', 'node-c'),
    ttl: fc.constantFrom(0, 0, 20),
    fields: fc.array(fc.record({
      field: fc.nat(5),
      dWall: fc.integer({ min: -50, max: 50 }),
      node: fc.constantFrom('node-b', 'node-c'),
      value: fc.option(fc.string({ maxLength: 3 })),
      removed: fc.boolean()
    }), { maxLength: 4 })
  })
)

/** A peer's hash state for `hmerge`: fields with random versions, some removed. */
function remoteHash (o: Extract<Op, { op: 'hmerge' }>, now: number): Entry {
  const fields = new Map<string, Field>()
  for (const f of o.fields) {
    const removed = f.removed || f.value === null
    fields.set(`f${f.field}`, {
      wall: now + f.dWall,
      logical: 0,
      node: f.node,
      state: { base: removed ? null : Buffer.from(f.value ?? ''), contribs: [], seen: [] },
      removed: removed ? { wall: now + f.dWall + 1, logical: 0, node: o.node } : null
    })
  }
  let live = 0
  for (const f of fields.values()) if (present(f)) live++
  return { value: live > 0 ? HASH_VALUE : null, wall: now + o.dWall, logical: 0, node: o.node, expiresAt: o.ttl === 0 ? 0 : now + o.ttl, hash: { fields, live, cut: null, set: false } }
}

t.test('the incremental digest always equals the digest computed from scratch', async t => {
  fc.assert(fc.property(fc.array(arbOp, { maxLength: 120 }), fc.boolean(), (ops, keep) => {
    const { store, advance } = makeStore()
    store.keepTombstones = keep
    let now = T0
    for (const o of ops) {
      switch (o.op) {
        case 'set': store.set(`k${o.key}`, Buffer.from(o.value), o.ttl === 0 ? 0 : now + o.ttl); break
        case 'del': store.delete(`k${o.key}`); break
        case 'incr':
          try {
            store.increment(`k${o.key}`, o.delta, 0, value => { if (value !== null && !/^-?\d+$/.test(value.toString())) throw new Error('not a counter') })
          } catch {} // a string that is not a number takes no increment
          break
        case 'merge': store.merge(`k${o.key}`, remote(o.value, now + o.dWall, o.logical, o.node, o.value === null || o.ttl === 0 ? 0 : now + o.ttl)); break
        case 'tick': advance(o.ms); now += o.ms; break
        case 'expire': store.expireSome(1000); break
        case 'stable': store.setStable(o.node, { wall: now + o.dWall, logical: 0 }); break
        case 'collect': store.collectTombstones(1000); break
        case 'hset': store.hset(`k${o.key}`, [[`f${o.field}`, Buffer.from(o.value)]]); break
        case 'hdel': store.hdel(`k${o.key}`, [`f${o.field}`]); break
        case 'hincr':
          try {
            store.hincrement(`k${o.key}`, `f${o.field}`, o.delta, 0, value => { if (value !== null && !/^-?\d+$/.test(value.toString())) throw new Error('not a counter') })
          } catch {}
          break
        case 'hmerge': store.merge(`k${o.key}`, remoteHash(o, now)); break
        case 'sadd': store.sadd(`s${o.key}`, [`m${o.field}`]); break
        case 'srem': store.hdel(`s${o.key}`, [`m${o.field}`]); break
      }
      store.get(`k${ops.length % 31}`) // reads reclaim expired values too
    }
    return sameDigest(store.digest, recomputed(store)) && store.cellsInUse === cellEntries(store)
  }), { numRuns: 300 })
  t.pass('300 random histories; and every key that went, or became a hash or a counter a cell does not hold, gave its cell back')
})

t.test('sets and hash counters taking adds in place keep the digest equal to one computed from scratch', async t => {
  // An SADD of a member this node added before, a HINCRBY of a field it
  // incremented, go into the record's own contribution in place (hash.ts
  // ownFieldContribution): a few keys and names, so the same one is hit often.
  const op = fc.oneof(
    fc.record({ op: fc.constantFrom('sadd' as const, 'srem' as const), key: fc.nat(1), name: fc.nat(2) }),
    fc.record({ op: fc.constant('hincr' as const), key: fc.nat(1), name: fc.nat(2), delta: fc.integer({ min: -2, max: 2 }) }),
    fc.record({ op: fc.constant('hdel' as const), key: fc.nat(1), name: fc.nat(2) }),
    fc.record({ op: fc.constant('tick' as const), ms: fc.nat(5) })
  )
  fc.assert(fc.property(fc.array(op, { minLength: 5, maxLength: 60 }), ops => {
    const { store, advance } = makeStore()
    for (const o of ops) {
      switch (o.op) {
        case 'sadd': store.sadd(`s${o.key}`, [`m${o.name}`]); break
        case 'srem': store.hdel(`s${o.key}`, [`m${o.name}`]); break
        case 'hincr': store.hincrement(`h${o.key}`, `f${o.name}`, o.delta, 0, () => {}); break
        case 'hdel': store.hdel(`h${o.key}`, [`f${o.name}`]); break
        case 'tick': advance(o.ms); break
      }
    }
    return sameDigest(store.digest, recomputed(store))
  }), { numRuns: 500 })
  t.pass('500 histories')
})

t.test('the same entries in any order give the same digest, leaf by leaf', async t => {
  const entries = fc.array(fc.record({
    key: fc.nat(200),
    value: fc.option(fc.string({ maxLength: 3 })),
    wall: fc.nat(100),
    logical: fc.nat(2),
    node: fc.constantFrom('n1', 'n2', 'n3')
  }), { maxLength: 80 })
  fc.assert(fc.property(entries, fc.infiniteStream(fc.nat()), (list, seeds) => {
    const a = makeStore('x').store
    const b = makeStore('y').store
    for (const e of list) a.merge(`k${e.key}`, remote(e.value, T0 + e.wall, e.logical, e.node))
    const shuffled = [...list]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = (seeds.next().value as number) % (i + 1)
      ;[shuffled[i], shuffled[j]] = [shuffled[j] as typeof list[number], shuffled[i] as typeof list[number]]
    }
    for (const e of [...shuffled, ...shuffled]) b.merge(`k${e.key}`, remote(e.value, T0 + e.wall, e.logical, e.node))
    return sameDigest(a.digest, b.digest)
  }), { numRuns: 200 })
  t.pass('200 random sets of entries, merged in two orders')
})

t.test('an empty store has the zero root; one key changes one leaf, one bucket and the root', async t => {
  const { store } = makeStore()
  t.equal(store.digest.rootHex(), '0000000000000000')
  store.set('k', Buffer.from('v'))
  t.not(store.digest.rootHex(), '0000000000000000')
  const h = keyHash('k')
  let nonZeroLeaves = 0
  for (let i = 0; i < BUCKETS * LEAVES; i++) if (store.digest.leaves[i * 2] !== 0) nonZeroLeaves++
  t.equal(nonZeroLeaves, 1, 'one leaf')
  t.not(store.digest.buckets[(h & (BUCKETS - 1)) * 2], 0, 'the key\'s bucket')
  t.equal(store.digest.bucketBytes().length, BUCKETS * 8)
  t.equal(store.digest.leafBytes([0, 1]).length, 2 * LEAVES * 8)
})

t.test('a value and the tombstone its expiry leaves have the same hash', async t => {
  const { store, advance } = makeStore()
  store.set('k', Buffer.from('v'), T0 + 10)
  const root = store.digest.rootHex()
  advance(20)
  t.equal(store.get('k'), undefined, 'expired')
  t.equal(store.tombstones, 1, 'now a tombstone')
  t.equal(store.digest.rootHex(), root, 'the root did not change')
})

t.test('tombstones: collected at or below the writer\'s stable timestamp, not taken back, and never by age alone', async t => {
  const { store, advance } = makeStore('node-a')
  store.set('a', Buffer.from('1'))
  store.set('b', Buffer.from('2'))
  store.delete('a')
  const tombA = { ...store.peek('a') as Entry }
  store.delete('b')
  t.equal(store.tombstones, 2)
  store.collectTombstones(100)
  t.equal(store.tombstones, 2, 'nothing is stable yet: kept')
  store.setStable('node-a', tombA)
  store.collectTombstones(100)
  t.equal(store.tombstones, 1, 'the tombstone at the stable timestamp went; the later one stays')
  t.equal(store.peek('a'), undefined)
  t.ok(sameDigest(store.digest, recomputed(store)), 'the digest lost it too')
  t.equal(store.merge('a', tombA), false, 'the collected tombstone is not taken back from a peer')
  t.equal(store.peek('a'), undefined)
  t.equal(store.merge('c', remote(null, T0 - 120_000, 0, 'node-b')), true, 'an old tombstone of a writer not yet stable is taken')
  t.equal(store.merge('d', remote('v', T0 - 120_000, 0, 'node-b')), true, 'an old value is taken: a newcomer needs it')
  advance(3_600_000)
  store.collectTombstones(100)
  t.equal(store.tombstones, 2, 'an hour later, the later one and the old one from node-b stay: age alone collects nothing')
  store.setStable('node-a', store.clock.peek())
  store.setStable('node-b', { wall: T0, logical: 0 })
  store.collectTombstones(100)
  t.equal(store.tombstones, 0, 'once stable, they go')
  t.equal(store.stats.tombstonesCollected, 3)
  t.ok(sameDigest(store.digest, recomputed(store)))
})

t.test('the tombstone queue stays bounded when a key is deleted over and over', async t => {
  const { store, advance } = makeStore()
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) {
      store.set(`k${i}`, Buffer.from('v'))
      store.delete(`k${i}`)
    }
    advance(1)
    store.setStable('node-a', store.clock.peek())
    store.collectTombstones(1_000_000)
  }
  t.equal(store.tombstones, 0)
  t.equal(store.tombstoneLog.queued, 0)
  t.equal(store.stats.tombstonesCollected, 5000)
})

t.test('tombstones: kept for the grace after they became stable, so a value still in flight cannot bring the key back', async t => {
  const { store, advance } = makeStore('node-a', 150)
  store.set('k', Buffer.from('old'))
  const old = { ...store.peek('k') as Entry }
  store.delete('k')
  const tomb = { ...store.peek('k') as Entry }
  store.setStable('node-a', tomb)
  store.collectTombstones(100)
  t.equal(store.tombstones, 1, 'stable, but within the grace: kept')
  t.equal(store.merge('k', old), false, 'an older value arriving late (an MREPL or page in flight) loses to the tombstone')
  advance(149)
  store.collectTombstones(100)
  t.equal(store.tombstones, 1, 'kept until the grace has passed on the store\'s clock')
  advance(1)
  store.collectTombstones(100)
  t.equal(store.tombstones, 0, 'collected once the grace has passed')
  t.equal(store.peek('k'), undefined)
})

t.test('tombstones: the grace runs on the store\'s clock, not on real time', async t => {
  // A simulator or test that injects time must control the grace too.
  const { store, advance } = makeStore('node-a', 10_000)
  store.set('k', Buffer.from('v'))
  store.delete('k')
  store.setStable('node-a', store.peek('k') as Entry)
  t.equal(store.tombstoneLog.stableAge('node-a'), 0)
  advance(9_999)
  t.equal(store.tombstoneLog.stableAge('node-a'), 9_999, 'the age follows the injected clock')
  store.collectTombstones(100)
  t.equal(store.tombstones, 1, 'a millisecond short of the grace on the store\'s clock: kept')
  advance(1)
  store.collectTombstones(100)
  t.equal(store.tombstones, 0, 'ten injected seconds later: collected, with no real time gone by')
})

t.test('tombstones: a stable one still within the grace is taken from a peer, as the peers holding it keep it that long', async t => {
  // A node that heard its writer's STABLE before the tombstone itself arrived
  // (a node restarted empty, sent STABLE ahead of its state transfer's pages)
  // must hold it for the grace like every other node, or their digests differ
  // until the others collect it.
  const { store, advance } = makeStore('node-a', 150)
  store.setStable('node-b', { wall: T0, logical: 0 })
  t.equal(store.merge('k', remote(null, T0 - 10, 0, 'node-b')), true, 'stable, within the grace: taken')
  t.equal(store.tombstones, 1)
  advance(150)
  t.equal(store.merge('j', remote(null, T0 - 5, 0, 'node-b')), false, 'stable past the grace: not taken back')
  store.collectTombstones(100)
  t.equal(store.tombstones, 0, 'the one taken is collected once the grace has passed')
})

t.test('tombstones: the grace of a relayed stable timestamp runs from when the relaying peer heard it, at most a grace back', async t => {
  let now = 1_000_000
  const log = new TombstoneLog(10_000, () => now)
  const ts = { wall: 500, logical: 0 }
  t.equal(log.setStable('node-b', ts, 8000), true, 'heard 8 s ago by the peer that relays it')
  t.equal(log.stableAge('node-b'), 8000, 'and relayed on with that age')
  now += 1999
  t.equal(log.isCollectable('node-b', 500, 0), false, 'not yet 10 s since it was first heard')
  now += 1
  t.equal(log.isCollectable('node-b', 500, 0), true, 'collectable 2 s later, when the peer collects too')
  const later = { wall: 600, logical: 0 }
  t.equal(log.setStable('node-c', later), true)
  t.equal(log.setStable('node-c', later, 60_000), true, 'the same timestamp heard earlier elsewhere moves it back')
  t.equal(log.stableAge('node-c'), 10_000, 'by at most the grace')
  t.equal(log.isCollectable('node-c', 600, 0), true)
  t.equal(log.setStable('node-c', later, 0), false, 'heard later again: nothing changes')
  const newer = { wall: 700, logical: 0 }
  t.equal(log.setStable('node-c', newer, 0), true)
  t.equal(log.isCollectable('node-c', 700, 0), false, 'a newer one heard now waits its grace')
  t.equal(log.isCollectable('node-c', 600, 0), true, 'while the older one stays collectable')
})

t.test('tombstones: one far ahead (a skewed writer\'s clock) does not hold up the collection of that writer\'s older ones', async t => {
  const { store } = makeStore('node-a')
  t.equal(store.merge('far', remote(null, T0 + 50_000, 0, 'node-b')), true, 'a tombstone far ahead arrives first')
  for (let i = 0; i < 5; i++) t.equal(store.merge(`k${i}`, remote(null, T0 - 1000 + i, 0, 'node-b')), true)
  t.equal(store.tombstones, 6)
  store.setStable('node-b', { wall: T0, logical: 0 })
  store.collectTombstones(100)
  t.equal(store.tombstones, 1, 'the five at or below node-b\'s stable timestamp went')
  t.ok(store.peek('far') !== undefined, 'the one ahead stays')
  t.equal(store.tombstoneLog.queued, 1)
  t.ok(sameDigest(store.digest, recomputed(store)))
})
