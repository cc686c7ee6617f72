import t from 'tap'
import fc from 'fast-check'
import { HybridClock } from '../../lib/store/clock.js'
import { decodeState, encodeState } from '../../lib/store/counter-codec.js'
import type { CounterState } from '../../lib/store/counter.js'
import { formatFloat, parseFloatValue, parseInt64 } from '../../lib/store/numbers.js'
import type { Entry } from '../../lib/store/entry.js'
import { Store } from '../../lib/store/store.js'

// PROTOCOL.md §Counters: the merge rule, on stores that pass entries by hand.

const T0 = 1_700_000_000_000

interface Replica { store: Store, advance: (ms: number) => void }

function replica (nodeId: string, clock: { now: number }): Replica {
  const store = new Store({ nodeId, clock: new HybridClock({ now: () => clock.now }), tombstoneGraceMs: 1000 })
  return { store, advance: ms => { clock.now += ms } }
}

const read = (s: Store, key: string): string | null => s.get(key)?.value?.toString('latin1') ?? null

/** What a peer would receive for `key`: the entry as encoded and decoded (a copy, never the store's object). */
function shipped (from: Store, key: string): Entry | undefined {
  const e = from.peek(key)
  if (e === undefined) return undefined
  const copy: Entry = { value: e.value === null ? null : Buffer.from(e.value), expiresAt: e.expiresAt, wall: e.wall, logical: e.logical, node: e.node }
  if (e.counter !== undefined) {
    const state = decodeState(encodeState(e.counter))
    if (typeof state === 'string') throw new Error(state)
    copy.counter = state
    copy.value = state.base
  }
  return copy
}

function sync (from: Store, to: Store, key: string): void {
  const e = shipped(from, key)
  if (e !== undefined) to.merge(key, e)
}

function three (): { a: Store, b: Store, c: Store, clock: { now: number } } {
  const clock = { now: T0 }
  return { a: replica('node-a', clock).store, b: replica('node-b', clock).store, c: replica('node-c', clock).store, clock }
}

t.test('concurrent increments at every node all count', async t => {
  const { a, b, c } = three()
  a.increment('k', 2n, 0)
  b.increment('k', 3n, 0)
  c.increment('k', -1n, 0)
  for (const [x, y] of [[a, b], [b, c], [c, a], [a, b], [b, c]] as const) sync(x, y, 'k')
  t.same([read(a, 'k'), read(b, 'k'), read(c, 'k')], ['4', '4', '4'])
  t.equal(a.digest.rootHex(), b.digest.rootHex(), 'same state, same digest')
  t.equal(b.digest.rootHex(), c.digest.rootHex())
})

t.test('a SET replaces what it had seen; concurrent increments land on top', async t => {
  const { a, b, clock } = three()
  a.increment('k', 5n, 0)
  sync(a, b, 'k')
  clock.now += 1
  b.increment('k', 3n, 0) // not yet seen by a
  a.set('k', Buffer.from('100')) // has seen a's 5, not b's 3
  sync(a, b, 'k')
  sync(b, a, 'k')
  t.equal(read(a, 'k'), '103')
  t.equal(read(b, 'k'), '103')
  a.increment('k', 1n, 0)
  sync(a, b, 'k')
  t.equal(read(b, 'k'), '104', 'increments after the SET add to it')
})

t.test('an INCR over a counter a peer deleted makes it live again, and counted so (the review: DBSIZE went to -1)', async t => {
  const { a, b } = three()
  a.increment('k', 1, 0)
  sync(a, b, 'k')
  b.delete('k')
  sync(b, a, 'k') // a's contribution, seen by the DEL's mark (a copy of it, not a's object)
  t.equal(a.get('k'), undefined)
  t.same([a.size, a.tombstones], [0, 1])
  a.increment('k', 1, 0)
  t.equal(read(a, 'k'), '1', 'only what the DEL had not seen')
  t.same([a.size, a.tombstones], [1, 0], 'a live key, no tombstone')
  a.delete('k')
  t.same([a.size, a.tombstones], [0, 1])
})

t.test('a counter incremented in its cell leaves it past 2^53 and comes back below, reading the same at a peer throughout', async t => {
  const { a, b } = three()
  const cells = a.cellsInUse
  a.increment('k', Number.MAX_SAFE_INTEGER - 2, 0)
  t.equal(a.cellsInUse, cells + 1, 'a counter of one contribution is a cell')
  const steps: Array<[number, string, boolean]> = [
    [1, '9007199254740990', true], // written into the cell in place
    [1, '9007199254740991', true],
    [1, '9007199254740992', false], // past 2^53: an object
    [1, '9007199254740993', false],
    [-2, '9007199254740991', true], // a cell again
    [-1, '9007199254740990', true]
  ]
  for (const [delta, value, inCell] of steps) {
    a.increment('k', delta, 0)
    sync(a, b, 'k')
    t.same([read(a, 'k'), read(b, 'k'), a.cellsInUse === cells + 1], [value, value, inCell], `INCRBY ${delta}: ${value}, ${inCell ? 'in a cell' : 'an object'}, the same at the peer`)
  }
})

t.test('after a peer\'s timestamp at the 32-bit logical maximum, an increment takes the next millisecond; a float moves a counter out of its cell', async t => {
  const { a, b, clock } = three()
  const cells = a.cellsInUse
  a.increment('k', 1, 0)
  t.equal(a.cellsInUse, cells + 1, 'in a cell')
  // A peer's timestamp at this millisecond, at the largest logical count 32 bits hold.
  a.clock.observe({ wall: a.clock.peek().wall, logical: 2 ** 32 - 1 })
  a.increment('k', 1, 0)
  const mine = a.peek('k')?.counter?.contribs[0]
  t.same([mine?.wall, mine?.logical], [clock.now + 1, 0], 'the next millisecond, count 0 (clock.ts successor)')
  t.equal(a.cellsInUse, cells + 1, 'still in its cell')
  sync(a, b, 'k') // encodable: FORMAT.md §Counter state holds a logical count in 32 bits
  t.same([read(a, 'k'), read(b, 'k')], ['2', '2'])
  clock.now += 2 // past the millisecond the clock moved to
  a.increment('f', 1, 0)
  t.equal(a.cellsInUse, cells + 2, 'a new counter in a cell')
  a.increment('f', 0, 0.5)
  t.equal(a.cellsInUse, cells + 1, 'INCRBYFLOAT: an object')
  sync(a, b, 'f')
  t.same([read(a, 'f'), read(b, 'f')], ['1.5', '1.5'])
})

t.test('a counter state from a peer with an impossible wall is refused', async t => {
  const good = encodeState({ base: null, contribs: [{ node: 'n1', epochWall: T0, epochLogical: 0, wall: T0, logical: 0, total: 1, ftotal: 0 }], seen: [] })
  t.not(typeof decodeState(good), 'string')
  // u8 format, u8 flags, u16 count, u8 id length, 'n1', then the epoch wall (f64) at 7 and the wall (f64) at 19.
  for (const [at, what] of [[7, 'epoch wall'], [19, 'wall']] as const) {
    for (const bad of [NaN, -1, 1.5]) {
      const b = Buffer.from(good)
      b.writeDoubleLE(bad, at)
      t.equal(decodeState(b), 'a bad version', `${what} ${bad}`)
    }
  }
})

t.test('DEL removes what it had seen, and only that', async t => {
  const { a, b, clock } = three()
  a.increment('k', 5n, 0)
  sync(a, b, 'k')
  clock.now += 1
  b.increment('k', 3n, 0)
  t.equal(a.delete('k'), true)
  t.equal(read(a, 'k'), null)
  sync(b, a, 'k')
  sync(a, b, 'k')
  t.equal(read(a, 'k'), '3', "b's unseen increment survives the delete")
  t.equal(read(b, 'k'), '3')
  // A delete that has seen everything leaves nothing.
  const { a: x, b: y } = three()
  x.increment('j', 1n, 0)
  sync(x, y, 'j')
  y.delete('j')
  sync(y, x, 'j')
  t.equal(read(x, 'j'), null)
  t.equal(x.size, 0, 'no live key')
})

t.test('increments after a SET whose marks came back from a peer count once each (the value is never written into the base)', async t => {
  const { a, b } = three()
  a.increment('k', 1n, 0)
  sync(a, b, 'k')
  b.set('k', Buffer.from('20')) // its marks: b's copies of a's contribution
  sync(b, a, 'k') // a's own contribution is not one of the marks, which have seen all of it
  t.equal(read(a, 'k'), '20', 'a value nothing unseen adds to is the base as written')
  a.increment('k', 1n, 0)
  a.increment('k', 1n, 0)
  t.equal(read(a, 'k'), '22')
  sync(a, b, 'k')
  t.equal(read(b, 'k'), '22')
  a.set('j', Buffer.from('+1'))
  a.increment('j', 1n, 0)
  a.set('j', Buffer.from('+1'))
  t.equal(read(a, 'j'), '+1', 'kept as written, as Redis')
})

t.test('a SET over a key created by INCR at another node wins its base, not its increments', async t => {
  const { a, b } = three()
  b.increment('k', 7n, 0) // base: none
  a.set('k', Buffer.from('10')) // concurrent
  sync(a, b, 'k')
  sync(b, a, 'k')
  t.equal(read(a, 'k'), '17')
  t.equal(read(b, 'k'), '17')
})

t.test('a base that is not a number takes no increments; floats add as doubles', async t => {
  const { a, b } = three()
  b.increment('k', 2n, 0)
  a.set('k', Buffer.from('abc'))
  sync(a, b, 'k')
  sync(b, a, 'k')
  t.equal(read(a, 'k'), 'abc')
  t.equal(read(b, 'k'), 'abc')
  a.set('f', Buffer.from('10.5'))
  sync(a, b, 'f')
  a.increment('f', 0n, 0.1)
  b.increment('f', 1n, 0)
  sync(a, b, 'f')
  sync(b, a, 'f')
  t.equal(read(a, 'f'), '11.6')
  t.equal(read(b, 'f'), '11.6')
})

t.test('expiry removes the base and what was started before it; a later INCR starts from 0', async t => {
  const clock = { now: T0 }
  const a = replica('node-a', clock).store
  const b = replica('node-b', clock).store
  a.increment('k', 5n, 0)
  t.equal(a.setExpiry('k', T0 + 100), true)
  sync(a, b, 'k')
  b.increment('k', 1n, 0)
  sync(b, a, 'k')
  t.equal(read(a, 'k'), '6')
  t.equal(a.peek('k')?.expiresAt, T0 + 100, 'INCR keeps the TTL')
  clock.now = T0 + 100
  t.equal(read(a, 'k'), null, 'expired at both')
  t.equal(read(b, 'k'), null)
  b.increment('k', 2n, 0)
  sync(b, a, 'k')
  t.equal(read(a, 'k'), '2')
  t.equal(read(b, 'k'), '2')
  t.equal(a.peek('k')?.expiresAt, 0, 'a counter started after the expiry has none')
})

t.test('collection: a stable base drops the contributions it saw, a counter becomes a plain value again', async t => {
  const { a, b, clock } = three()
  a.increment('k', 5n, 0)
  sync(a, b, 'k')
  a.set('k', Buffer.from('9'))
  sync(a, b, 'k')
  const base = a.peek('k') as Entry
  t.ok(base.counter !== undefined, 'still a counter: b may increment what it held')
  for (const s of [a, b]) s.setStable('node-a', { wall: base.wall, logical: base.logical })
  clock.now += 1001
  for (const s of [a, b]) s.collectTombstones(100)
  t.equal(a.peek('k')?.counter, undefined, 'collected to a plain value')
  t.equal(read(a, 'k'), '9')
  t.equal(a.digest.rootHex(), b.digest.rootHex())
  // b increments again: a new epoch, counted in full at a (which collected the old one).
  b.increment('k', 1n, 0)
  sync(b, a, 'k')
  t.equal(read(a, 'k'), '10')
  // A peer that had not collected sends its old state: merged, then collected again at once.
  const old: CounterState = { base: Buffer.from('9'), contribs: [{ node: 'node-a', epochWall: T0, epochLogical: 0, wall: T0, logical: 0, total: 5n, ftotal: 0 }], seen: [{ node: 'node-a', epochWall: T0, epochLogical: 0, wall: T0, logical: 0, total: 5n, ftotal: 0 }] }
  a.merge('k', { value: old.base, expiresAt: 0, wall: base.wall, logical: base.logical, node: base.node, counter: old })
  t.equal(read(a, 'k'), '10', 'nothing counted twice')
})

t.test('a deleted counter is collected whole once stable', async t => {
  const { a, b, clock } = three()
  a.increment('k', 5n, 0)
  sync(a, b, 'k')
  a.delete('k')
  sync(a, b, 'k')
  const d = a.peek('k') as Entry
  for (const s of [a, b]) s.setStable('node-a', { wall: d.wall, logical: d.logical })
  clock.now += 1001
  for (let i = 0; i < 3; i++) for (const s of [a, b]) s.collectTombstones(100)
  t.equal(a.peek('k'), undefined)
  t.equal(b.peek('k'), undefined)
  t.equal(a.tombstones, 0)
})

t.test('the state survives its encoding', async t => {
  const { a, b } = three()
  a.increment('k', 9223372036854775807n, 0)
  b.increment('k', 9223372036854775807n, 0)
  sync(a, b, 'k')
  t.equal(read(b, 'k'), '18446744073709551614', 'integer sums past int64 are exact')
  b.increment('k', 0n, 0.25)
  t.equal(read(b, 'k'), '18446744073709551616', 'with a float part, a double')
  const e = b.peek('k') as Entry
  const again = decodeState(encodeState(e.counter as CounterState))
  t.same(again, e.counter)
  t.type(decodeState(Buffer.from([1, 0, 1])), 'string', 'a short state is an error, not a throw')
  t.type(decodeState(Buffer.from([9])), 'string')
})

t.test('numbers as Redis reads and prints them', async t => {
  const ok = ['0', '-1', '42', '9223372036854775807', '-9223372036854775808']
  for (const s of ok) t.equal(String(parseInt64(Buffer.from(s))), s, s)
  t.equal(parseInt64(Buffer.from('42')), 42, 'a number while it is a safe integer')
  t.equal(parseInt64(Buffer.from('9223372036854775807')), 9223372036854775807n, 'a bigint beyond')
  for (const s of ['', '-', '01', '-0', '+1', ' 1', '1 ', '9223372036854775808', '1e3', '1.0']) t.equal(parseInt64(Buffer.from(s)), null, JSON.stringify(s))
  // A value read out of a cell is a latin1 string: read as its bytes would be.
  fc.assert(fc.property(fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String), fc.string({ maxLength: 22 }), fc.stringMatching(/^-?0*\d{0,21}(\.\d*)?$/)), s => {
    const text = Buffer.from(s, 'latin1').toString('latin1')
    return parseInt64(text) === parseInt64(Buffer.from(text, 'latin1')) && Object.is(parseFloatValue(text), parseFloatValue(Buffer.from(text, 'latin1')))
  }), { numRuns: 2000 })
  t.equal(parseFloatValue(Buffer.from('10.5')), 10.5)
  t.equal(parseFloatValue(Buffer.from('5.0e3')), 5000)
  t.equal(parseFloatValue(Buffer.from(' 1')), null)
  t.equal(parseFloatValue(Buffer.from('abc')), null)
  t.equal(parseFloatValue(Buffer.from('nan')), null)
  t.equal(formatFloat(10.6), '10.6')
  t.equal(formatFloat(11), '11')
  t.equal(formatFloat(5000), '5000')
  t.equal(formatFloat(1e21), '1000000000000000000000')
  t.equal(formatFloat(1e-7), '0.0000001')
  t.equal(formatFloat(-2.5), '-2.5')
  t.equal(formatFloat(1.5e-10), '0.00000000015')
  t.equal(formatFloat(-1.25e-7), '-0.000000125')
})

// Random histories at three replicas, delivered in random orders: every
// replica ends with the same value and digest, whatever the order.
t.test('replicas converge whatever the order of delivery (fast-check)', async t => {
  const op = fc.record({
    at: fc.integer({ min: 0, max: 2 }),
    kind: fc.constantFrom('incr', 'incr', 'incr', 'set', 'del', 'float', 'sync'),
    n: fc.integer({ min: -5, max: 20 }),
    to: fc.integer({ min: 0, max: 2 })
  })
  fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), ops => {
    const { a, b, c, clock } = three()
    const rs = [a, b, c]
    for (const o of ops) {
      clock.now += 1
      const s = rs[o.at] as Store
      if (o.kind === 'incr') s.increment('k', BigInt(o.n), 0)
      else if (o.kind === 'float') s.increment('k', 0n, o.n / 4)
      else if (o.kind === 'set') s.set('k', Buffer.from(String(o.n)))
      else if (o.kind === 'del') s.delete('k')
      else sync(s, rs[o.to] as Store, 'k')
    }
    for (let round = 0; round < 2; round++) for (const x of rs) for (const y of rs) if (x !== y) sync(x, y, 'k')
    const values = rs.map(s => read(s, 'k'))
    return values[0] === values[1] && values[1] === values[2] && a.digest.rootHex() === b.digest.rootHex() && b.digest.rootHex() === c.digest.rootHex()
  }), { numRuns: 300 })
  t.pass('converged')
})

t.test('values 0..9999 share their bytes, which nothing writes into', async t => {
  const { a, clock } = three()
  a.increment('k', 5, 0)
  a.increment('other', 5, 0)
  t.equal(a.peek('k')?.value, a.peek('other')?.value, 'two counters at 5 hold the same shared bytes')
  // EXPIRE makes the shared bytes the base; once collected, k is a plain value holding them.
  t.ok(a.setExpiry('k', T0 + 3_600_000))
  const base = a.peek('k') as Entry
  a.setStable('node-a', { wall: base.wall, logical: base.logical })
  clock.now += 1001
  a.collectTombstones(100)
  t.equal(a.peek('k')?.counter, undefined, 'a plain value now')
  a.set('k', Buffer.from('x')) // same length: a plain value's bytes are overwritten in place, but not shared ones
  t.equal(read(a, 'k'), 'x')
  t.equal(read(a, 'other'), '5', 'the other counter still reads 5')
  // A counter only ever incremented lives in a cell (cells.ts): past the shared range its value is a string made from its total.
  a.increment('other', 9995, 0)
  t.equal(typeof a.peek('other')?.value, 'string', 'past the shared range: no bytes of its own')
  t.equal(read(a, 'other'), '10000')
  a.increment('other', 1, 0)
  t.equal(read(a, 'other'), '10001')
  // One over a SET's base is an object: past the shared range it takes bytes of its own, rewritten in place after.
  a.set('based', Buffer.from('9999'))
  a.increment('based', 1, 0)
  const own = a.peek('based')?.value
  t.ok(Buffer.isBuffer(own))
  t.equal(read(a, 'based'), '10000')
  a.increment('based', 1, 0)
  t.equal(a.peek('based')?.value, own, 'same length: the same buffer')
  t.equal(read(a, 'based'), '10001')
  a.increment('other', -9000, 0)
  t.equal(read(a, 'other'), '1001', 'back in the shared range')
  a.increment('k2', 1001, 0)
  t.equal(a.peek('k2')?.value, a.peek('other')?.value)
})
