import t from 'tap'
import fc from 'fast-check'
import { HybridClock } from '../../lib/store/clock.js'
import { bufferOf, SMALL_VALUE_MAX } from '../../lib/store/bytes.js'
import { compareVersions, HASH_VALUE, type Entry } from '../../lib/store/entry.js'
import { baseField, newHash } from '../../lib/store/hash.js'
import { BUCKETS, Store, type StoreOptions } from '../../lib/store/store.js'

const T0 = 1_700_000_000_000

/** A store on a fake clock; `advance` moves the clock, `set` puts it anywhere (even backwards). */
function makeStore (options: Partial<StoreOptions> = {}): { store: Store, advance: (ms: number) => void, setNow: (ms: number) => void, now: () => number } {
  let fakeNow = T0
  const store = new Store({ nodeId: 'node-a', clock: new HybridClock({ now: () => fakeNow }), ...options })
  return {
    store,
    advance: ms => { fakeNow += ms },
    setNow: ms => { fakeNow = ms },
    now: () => fakeNow
  }
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1')
const value = (store: Store, key: string): string | undefined => store.get(key)?.value?.toString('latin1')

function remote (value: string | null, wall: number, logical: number, node: string, expiresAt = 0): Entry {
  return { value: value === null ? null : b(value), wall, logical, node, expiresAt }
}

t.test('set, get, delete', async t => {
  const { store } = makeStore()
  t.equal(store.get('k'), undefined)
  const e = store.set('k', b('v1'))
  t.equal(e.value?.toString(), 'v1')
  t.equal(value(store, 'k'), 'v1')
  store.set('k', b('v2'))
  t.equal(value(store, 'k'), 'v2', 'overwrite')
  t.equal(store.delete('k'), true)
  t.equal(store.get('k'), undefined)
  t.equal(store.delete('k'), false, 'deleting a deleted key')
  t.equal(store.delete('never'), false, 'deleting a missing key')
  store.set('k', b('v3'))
  t.equal(value(store, 'k'), 'v3', 'set after delete')
  store.set('empty', b(''))
  t.equal(value(store, 'empty'), '', 'an empty value is a value')
  t.equal(store.size, 2)
})

t.test('values are copied on set and on merge', async t => {
  const { store } = makeStore()
  const buf = b('hello')
  store.set('k', buf)
  buf.write('HELLO')
  t.equal(value(store, 'k'), 'hello', 'mutating the caller buffer does not change the value')
  const big = Buffer.alloc(8192, 1)
  const view = big.subarray(10, 20)
  store.set('view', view)
  big.fill(9)
  t.same([...bufferOf(store.get('view')?.value ?? '')], new Array(10).fill(1), 'a view into a larger buffer is copied too')
  const incoming = remote('abc', T0 + 1000, 0, 'node-b')
  store.merge('m', incoming)
  ;(incoming.value as Buffer).write('xyz') // the caller's buffer, reused
  t.equal(value(store, 'm'), 'abc', 'merge copies')
})

t.test('a small value is kept as a latin1 string, a larger one as a Buffer, every byte intact', async t => {
  const { store } = makeStore()
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 255) % 256))
  const small = bytes(SMALL_VALUE_MAX)
  store.set('small', small)
  const kept = store.get('small')?.value
  t.equal(typeof kept, 'string', `${SMALL_VALUE_MAX} bytes: a string`)
  t.same(bufferOf(kept ?? ''), small, 'every byte value survives the string')
  const large = bytes(SMALL_VALUE_MAX + 1)
  store.set('large', large)
  const buffer = store.get('large')?.value
  t.ok(Buffer.isBuffer(buffer), `${SMALL_VALUE_MAX + 1} bytes: a Buffer`)
  t.same(buffer, large)
  store.set('large', bytes(SMALL_VALUE_MAX + 1).reverse())
  t.equal(store.get('large')?.value, buffer, 'a value of the same length is written into the old one\'s bytes')
  t.same(store.get('large')?.value, bytes(SMALL_VALUE_MAX + 1).reverse())
  const cells = store.cellsInUse
  store.set('small', bytes(SMALL_VALUE_MAX).reverse())
  t.equal(store.cellsInUse, cells, 'a small value written over a small one goes into the key\'s cell')
  t.same(bufferOf(store.get('small')?.value ?? ''), bytes(SMALL_VALUE_MAX).reverse())
  store.set('small', 'x')
  t.equal(store.cellsInUse, cells, 'a value of another size moves to a cell of that size, the old one given back')
  store.set('small', large)
  const grown = store.get('small')?.value
  t.ok(Buffer.isBuffer(grown), 'a key written over with a larger value is an object holding a Buffer of its own')
  t.equal(store.cellsInUse, cells - 1, 'and its cell is given back')
  store.set('small', bytes(SMALL_VALUE_MAX + 1).reverse())
  t.equal(store.get('small')?.value, grown, 'later values of that length are written into it')
  store.set('small', small)
  t.same(bufferOf(store.get('small')?.value ?? ''), small, 'a small value again: back in a cell')
  t.equal(store.cellsInUse, cells)
  store.delete('small')
  store.set('small', small)
  t.equal(typeof store.get('small')?.value, 'string', 'a key set again after a delete is in a cell again')
  store.setExpiry('small', T0 + 60_000)
  t.equal(typeof store.get('small')?.value, 'string', 'an expiry change is no new value: the key stays in its cell')
  t.equal(store.get('small')?.expiresAt, T0 + 60_000)
  store.setExpiry('small', 0)
  t.equal(store.get('small')?.expiresAt, 0)
  t.same(bufferOf(store.get('small')?.value ?? ''), small)

  // Recovery hands over views into its read buffers (copy false): a small
  // value must not keep a whole read buffer alive, a larger one is taken as is.
  const readBuffer = Buffer.alloc(65536, 7)
  store.restore('restored-small', { value: readBuffer.subarray(0, 10), wall: T0 + 5000, logical: 0, node: 'node-b', expiresAt: 0 }, false)
  t.equal(store.get('restored-small')?.value, '\x07'.repeat(10), 'a small view becomes a string of its own')
  const view = readBuffer.subarray(100, 400)
  store.restore('restored-large', { value: view, wall: T0 + 5000, logical: 0, node: 'node-b', expiresAt: 0 }, false)
  t.equal(store.get('restored-large')?.value, view, 'a larger view is kept')
  store.set('rewritten', 'a')
  store.set('rewritten', 'b')
  store.restore('rewritten', { value: readBuffer.subarray(0, 3), wall: T0 + 6000, logical: 0, node: 'node-b', expiresAt: 0 }, false)
  t.equal(store.peek('rewritten')?.value, '\x07'.repeat(3), 'a small view over a key written over is copied too')
})

t.test('a key gives its cell back when it goes, or becomes a counter or a hash', async t => {
  const { store, advance } = makeStore({ keepTombstones: false })
  store.set('deleted', 'v')
  store.set('counter', '1')
  store.set('expiring', 'v', T0 + 10)
  store.set('kept', 'v')
  t.equal(store.cellsInUse, 4)
  store.delete('deleted')
  t.equal(store.cellsInUse, 3, 'a delete that leaves no tombstone')
  store.increment('counter', 1, 0)
  t.equal(value(store, 'counter'), '2')
  t.equal(store.cellsInUse, 2, 'a value that became a counter (an object)')
  advance(20)
  t.equal(store.get('expiring'), undefined)
  t.equal(store.cellsInUse, 1, 'an expired value reclaimed, no tombstone kept')
  store.merge('kept', { value: null, wall: T0 + 1000, logical: 0, node: 'node-b', expiresAt: 0, hash: newHash() })
  store.merge('kept', { value: HASH_VALUE, wall: T0 + 2000, logical: 0, node: 'node-b', expiresAt: 0, hash: { ...newHash(), fields: new Map([['f', baseField({ wall: T0 + 2000, logical: 0, node: 'node-b' }, 'x')]]), live: 1 } })
  t.equal(store.peek('kept')?.hash?.fields.size, 1)
  t.equal(store.cellsInUse, 0, 'a key that became a hash')

  const kept = makeStore({ tombstoneGraceMs: 0 }).store
  kept.set('a', 'v')
  kept.delete('a')
  t.equal(kept.cellsInUse, 1, 'a tombstone is in a cell')
  kept.setStable('node-a', kept.peek('a') as Entry)
  kept.collectTombstones(100)
  t.equal(kept.peek('a'), undefined)
  t.equal(kept.cellsInUse, 0, 'a collected tombstone gives it back')
})

t.test('every local write gets a strictly increasing version with this node id', async t => {
  const { store, advance, setNow } = makeStore()
  const versions: Entry[] = []
  // Listeners must copy what they keep: the store updates entries in place.
  store.onWrite((_key, entry, local) => { if (local) versions.push({ ...entry }) })
  store.set('a', b('1'))
  store.set('b', b('1'))
  store.set('a', b('2'))
  advance(5)
  store.delete('b')
  store.setExpiry('a', T0 + 60_000)
  setNow(T0 - 10_000) // the physical clock jumps back
  store.set('c', b('1'))
  store.set('d', b('1'))
  advance(100_000)
  store.set('e', b('1'))
  store.flushAll()
  t.ok(versions.length >= 10, `${versions.length} writes`)
  for (let i = 1; i < versions.length; i++) {
    const prev = versions[i - 1] as Entry
    const cur = versions[i] as Entry
    t.ok(compareVersions(cur, prev) > 0, `write ${i} (${cur.wall}.${cur.logical}) after ${prev.wall}.${prev.logical}`)
  }
  t.ok(versions.every(v => v.node === 'node-a'), 'all carry this node id')
  t.same(versions.slice(0, 3).map(v => [v.wall, v.logical]), [[T0, 0], [T0, 1], [T0, 2]], 'a logical counter within one ms')
})

t.test('deletes leave tombstones with a newer version', async t => {
  const { store } = makeStore()
  const written = store.set('k', b('v'))
  t.equal(store.tombstones, 0)
  store.delete('k')
  const tomb = store.peek('k')
  t.ok(tomb !== undefined, 'the entry stays')
  t.equal(tomb?.value, null, 'as a tombstone')
  t.ok(compareVersions(tomb as Entry, written) > 0, 'with a newer version')
  t.equal(tomb?.node, 'node-a')
  t.equal(store.size, 0, 'size counts values only')
  t.equal(store.tombstones, 1)
  t.same(store.keys('*'), [])
  store.set('k', b('again'))
  t.equal(store.tombstones, 0, 'a write over a tombstone replaces it')
  t.equal(store.size, 1)
})

t.test('without keepTombstones a delete leaves no entry', async t => {
  const { store } = makeStore({ keepTombstones: false })
  store.set('k', b('v'))
  t.equal(store.delete('k'), true)
  t.equal(store.peek('k'), undefined)
  t.equal(store.tombstones, 0)
  t.equal(store.size, 0)
  let seen = 0
  store.forEachEntry(() => { seen++ })
  t.equal(seen, 0, 'nothing left to iterate')
})

t.test('size counts values, not tombstones', async t => {
  const { store } = makeStore()
  for (let i = 0; i < 10; i++) store.set(`k${i}`, b('v'))
  store.set('k0', b('again'))
  t.equal(store.size, 10, 'overwrites are not counted twice')
  for (let i = 0; i < 4; i++) store.delete(`k${i}`)
  t.equal(store.size, 6)
  t.equal(store.tombstones, 4)
  store.merge('r', remote('x', T0, 5, 'node-b'))
  store.merge('k9', remote(null, T0 + 1, 0, 'node-b'))
  t.equal(store.size, 6, 'a merged value counts, a merged delete uncounts')
  t.equal(store.tombstones, 5)
})

t.test('lazy expiry on get', async t => {
  const { store, advance } = makeStore()
  const written = store.set('k', b('v'), T0 + 100)
  store.set('keep', b('v'))
  t.equal(store.keysWithExpiry, 1)
  advance(99)
  t.equal(value(store, 'k'), 'v', 'live 1 ms before its expiry')
  advance(1)
  t.equal(store.size, 2, 'an expired key counts until it is reclaimed')
  t.equal(store.get('k'), undefined, 'gone at its expiry')
  t.equal(store.size, 1)
  t.equal(store.stats.expiredKeys, 1)
  t.equal(store.keysWithExpiry, 0)
  const tomb = store.peek('k')
  t.equal(tomb?.value, null, 'reclaimed into a tombstone')
  t.equal(compareVersions(tomb as Entry, written), 0, 'with the same version, so every node agrees')
  t.same(store.keys('*'), ['keep'])
  t.equal(store.delete('k'), false, 'an expired key cannot be deleted again')
})

t.test('expired keys are invisible before they are reclaimed', async t => {
  const { store, advance } = makeStore()
  store.set('a', b('v'), T0 + 10)
  store.set('b', b('v'))
  advance(10)
  t.same(store.keys('*'), ['b'], 'keys skips it')
  t.same(store.scan(0, 1000, null).keys, ['b'], 'scan skips it')
  t.equal(store.flushAll(), 1, 'flushAll does not count it')
})

t.test('active expiry via expireSome', async t => {
  const { store, advance } = makeStore()
  for (let i = 0; i < 10; i++) store.set(`e${i}`, b('v'), T0 + 50)
  for (let i = 0; i < 10; i++) store.set(`p${i}`, b('v'))
  for (let i = 0; i < 5; i++) store.set(`later${i}`, b('v'), T0 + 1000)
  t.equal(store.expireSome(100), 0, 'nothing expired yet')
  t.equal(store.size, 25)
  advance(50)
  const first = store.expireSome(4)
  t.equal(first, 1, 'the first 4 sampled were all expired')
  t.equal(store.stats.expiredKeys, 4, 'the budget is honoured')
  let rounds = 0
  while (store.stats.expiredKeys < 10 && rounds++ < 20) store.expireSome(4)
  t.equal(store.stats.expiredKeys, 10, 'further rounds reclaim the rest')
  t.equal(store.size, 15)
  t.equal(store.keysWithExpiry, 5, 'only the later keys keep an expiry')
  for (let i = 0; i < 10; i++) t.equal(store.peek(`e${i}`)?.value, null)
  t.equal(value(store, 'later0'), 'v')
  advance(1000)
  let r = 0
  for (let i = 0; i < 5 && store.keysWithExpiry > 0; i++) r = store.expireSome(100)
  t.ok(r > 0, 'reports a fraction expired')
  t.equal(store.keysWithExpiry, 0)
  t.equal(store.size, 10)
  t.equal(store.expireSome(100), 0, 'nothing left with an expiry')
})

t.test('setExpiry', async t => {
  const { store, advance } = makeStore()
  store.set('k', b('v'))
  t.equal(store.setExpiry('missing', T0 + 100), false)
  t.equal(store.setExpiry('k', T0 + 100), true)
  t.equal(store.get('k')?.expiresAt, T0 + 100)
  t.equal(value(store, 'k'), 'v', 'the value is kept')
  t.equal(store.keysWithExpiry, 1)
  t.equal(store.setExpiry('k', 0), true, '0 removes the expiry')
  t.equal(store.keysWithExpiry, 0)
  advance(200)
  t.equal(value(store, 'k'), 'v', 'no longer expires')
  t.equal(store.setExpiry('k', store.now()), true, 'an expiry of now deletes')
  t.equal(store.get('k'), undefined)
  t.equal(store.peek('k')?.value, null, 'leaving a tombstone')
  store.set('j', b('v'))
  t.equal(store.setExpiry('j', T0 - 1), true, 'an expiry in the past deletes')
  t.equal(store.get('j'), undefined)
  t.equal(store.size, 0)
})

t.test('flushAll', async t => {
  const { store } = makeStore()
  for (let i = 0; i < 20; i++) store.set(`k${i}`, b('v'))
  store.delete('k0')
  t.equal(store.flushAll(), 19, 'returns the number of live keys removed')
  t.equal(store.size, 0)
  t.equal(store.tombstones, 20, 'each leaves a tombstone')
  t.same(store.keys('*'), [])
  t.equal(store.flushAll(), 0)
  const { store: bare } = makeStore({ keepTombstones: false })
  bare.set('a', b('v'))
  t.equal(bare.flushAll(), 1)
  t.equal(bare.tombstones, 0)
  t.equal(bare.peek('a'), undefined)
})

t.test('keys(pattern)', async t => {
  const { store } = makeStore()
  for (const k of ['user:1', 'user:2', 'user:10', 'order:1', 'hello', 'hallo', 'hxllo']) store.set(k, b('v'))
  store.delete('user:2')
  t.same(store.keys('*').sort(), ['hallo', 'hello', 'hxllo', 'order:1', 'user:1', 'user:10'])
  t.same(store.keys('user:*').sort(), ['user:1', 'user:10'], 'tombstones excluded')
  t.same(store.keys('h[ae]llo').sort(), ['hallo', 'hello'])
  t.same(store.keys('user:?'), ['user:1'])
  t.same(store.keys('nothing*'), [])
})

t.test('scan', async t => {
  const { store } = makeStore()
  const all = new Set<string>()
  for (let i = 0; i < 3000; i++) {
    store.set(`key:${i}`, b('v'))
    all.add(`key:${i}`)
  }
  let cursor = 0
  let steps = 0
  const seen = new Map<string, number>()
  const sizes: number[] = []
  do {
    const r = store.scan(cursor, 20, null)
    t.ok(r.cursor === 0 || (r.cursor > cursor && r.cursor < BUCKETS), 'the cursor moves forward')
    cursor = r.cursor
    if (cursor !== 0) sizes.push(r.keys.length)
    for (const k of r.keys) seen.set(k, (seen.get(k) ?? 0) + 1)
    steps++
  } while (cursor !== 0 && steps < 10_000)
  t.equal(seen.size, all.size, 'every key returned')
  t.ok([...all].every(k => seen.get(k) === 1), 'exactly once when nothing changes')
  t.ok(sizes.every(n => n >= 20 && n <= 40), `COUNT is honoured roughly (${Math.min(...sizes)}..${Math.max(...sizes)} per step)`)
  t.ok(steps >= 3000 / 40 && steps <= 3000 / 20 + 2, `${steps} steps`)

  const matched = new Set<string>()
  cursor = 0
  do {
    const r = store.scan(cursor, 100, 'key:1?')
    for (const k of r.keys) matched.add(k)
    cursor = r.cursor
  } while (cursor !== 0)
  t.same([...matched].sort(), ['key:10', 'key:11', 'key:12', 'key:13', 'key:14', 'key:15', 'key:16', 'key:17', 'key:18', 'key:19'], 'MATCH')

  t.same(store.scan(BUCKETS, 10, null), { cursor: 0, keys: [] }, 'a cursor past the end is done')
  const { store: empty } = makeStore()
  t.same(empty.scan(0, 10, null), { cursor: 0, keys: [] }, 'an empty store')
})

t.test('scan returns every key present throughout while others come and go', async t => {
  const { store } = makeStore()
  const stable: string[] = []
  for (let i = 0; i < 1000; i++) {
    store.set(`s${i}`, b('v'))
    stable.push(`s${i}`)
  }
  for (let i = 0; i < 1000; i++) store.set(`gone${i}`, b('v'))
  const seen = new Set<string>()
  let cursor = 0
  let step = 0
  do {
    const r = store.scan(cursor, 10, null)
    for (const k of r.keys) seen.add(k)
    cursor = r.cursor
    // churn between steps
    store.delete(`gone${step}`)
    store.set(`new${step}`, b('v'))
    step++
  } while (cursor !== 0)
  t.ok(stable.every(k => seen.has(k)), 'every stable key returned at least once')
  t.ok(step > 10, `${step} steps with churn`)
})

t.test('merge applies only newer versions', async t => {
  const { store } = makeStore()
  const changes: Array<[string, boolean]> = []
  store.onWrite((key, _entry, local) => changes.push([key, local]))
  t.equal(store.merge('k', remote('v1', T0 + 10, 0, 'node-b')), true, 'into an empty store')
  t.equal(value(store, 'k'), 'v1')
  t.equal(store.merge('k', remote('old', T0 + 9, 5, 'node-b')), false, 'an older wall')
  t.equal(store.merge('k', remote('old', T0 + 10, 0, 'node-a')), false, 'same timestamp, smaller node id')
  t.equal(store.merge('k', remote('dup', T0 + 10, 0, 'node-b')), false, 'the same version again')
  t.equal(value(store, 'k'), 'v1')
  t.equal(store.merge('k', remote('v2', T0 + 10, 1, 'node-b')), true, 'a larger logical counter')
  t.equal(store.merge('k', remote('v3', T0 + 10, 1, 'node-c')), true, 'same timestamp, larger node id wins')
  t.equal(value(store, 'k'), 'v3')
  t.equal(store.merge('k', remote(null, T0 + 11, 0, 'node-b')), true, 'a newer tombstone deletes')
  t.equal(store.get('k'), undefined)
  t.equal(store.merge('k', remote('zombie', T0 + 10, 9, 'node-z')), false, 'an older value does not resurrect it')
  t.equal(store.get('k'), undefined)
  t.same(changes, [['k', false], ['k', false], ['k', false], ['k', false]], 'listeners see applied merges only, as remote')
  const local = store.set('k', b('mine'))
  t.ok(compareVersions(local, remote(null, T0 + 11, 0, 'node-b')) > 0, 'a local write after a merge is newer than it')
  t.same(changes.at(-1), ['k', true])
})

t.test('merge observes the clock', async t => {
  const { store } = makeStore()
  store.merge('k', remote('ahead', T0 + 5000, 3, 'node-b'))
  t.same(store.clock.peek(), { wall: T0 + 5000, logical: 3 })
  const e = store.set('j', b('v'))
  t.same([e.wall, e.logical], [T0 + 5000, 4], 'local writes follow the remote timestamp')
  const e2 = store.set('k', b('overwrite'))
  t.equal(value(store, 'k'), 'overwrite', 'so a local write after it wins over it')
  t.ok(compareVersions(e2, store.peek('j') as Entry) > 0)
  // too far ahead: the clock does not follow, but the entry is still merged
  const far = remote('far', T0 + 10 * 60_000, 0, 'node-b')
  t.equal(store.merge('x', far), true)
  t.same(store.clock.peek(), { wall: T0 + 5000, logical: 5 }, 'the clock is not dragged forward')
})

t.test('merged expiries', async t => {
  const { store, advance } = makeStore()
  store.merge('k', remote('v', T0, 1, 'node-b', T0 + 100))
  t.equal(store.keysWithExpiry, 1)
  store.merge('k', remote('v2', T0, 2, 'node-b', 0))
  t.equal(store.keysWithExpiry, 0, 'a newer value without expiry clears it')
  store.merge('j', remote('v', T0, 1, 'node-b', T0 + 100))
  advance(100)
  t.equal(store.expireSome(10), 1)
  t.equal(store.get('j'), undefined)
})

t.test('write listeners', async t => {
  const { store } = makeStore()
  const events: Array<{ key: string, value: string | null, local: boolean }> = []
  store.onWrite((key, entry, local) => events.push({ key, value: entry.value?.toString() ?? null, local }))
  const second: string[] = []
  store.onWrite(key => second.push(key))
  store.set('a', b('1'))
  store.delete('a')
  store.delete('a') // nothing to delete: no event
  store.set('b', b('2'))
  store.setExpiry('b', T0 + 100)
  store.merge('c', remote('3', T0 + 1, 0, 'node-b'))
  store.merge('c', remote('old', T0, 0, 'node-b')) // rejected: no event
  store.flushAll()
  t.same(events.slice(0, 5), [
    { key: 'a', value: '1', local: true },
    { key: 'a', value: null, local: true },
    { key: 'b', value: '2', local: true },
    { key: 'b', value: '2', local: true },
    { key: 'c', value: '3', local: false }
  ])
  // flushAll deletes in storage order
  t.same(events.slice(5).sort((x, y) => x.key < y.key ? -1 : 1), [
    { key: 'b', value: null, local: true },
    { key: 'c', value: null, local: true }
  ])
  t.equal(second.length, events.length, 'every listener is called')
})

// --- property: convergence ---------------------------------------------------

const NODES = ['n1', 'n2', 'n3']
const KEYS = ['a', 'b', 'c', 'd']

const arbEntry = fc.record({
  key: fc.constantFrom(...KEYS),
  wall: fc.integer({ min: T0 - 2, max: T0 + 2 }),
  logical: fc.integer({ min: 0, max: 2 }),
  node: fc.constantFrom(...NODES),
  value: fc.option(fc.uint8Array({ maxLength: 4 }).map(a => Buffer.from(a)), { freq: 3 }),
  expiresAt: fc.constantFrom(0, 0, T0 + 60_000)
})

/** A version names one write: keep one entry per key and version. */
function uniqueWrites (entries: Array<{ key: string } & Entry>): Array<{ key: string } & Entry> {
  const seen = new Set<string>()
  return entries.filter(e => {
    const id = `${e.key}/${e.wall}/${e.logical}/${e.node}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

function dump (store: Store): string {
  const rows: string[] = []
  store.forEachEntry((key, e) => {
    rows.push(`${key}=${e.value === null ? 'TOMB' : bufferOf(e.value).toString('hex')}@${e.wall}.${e.logical}.${e.node}~${e.expiresAt}`)
  })
  return rows.sort().join(' ') + ` size=${store.size} tombstones=${store.tombstones} expiring=${store.keysWithExpiry}`
}

t.test('property: any delivery order, with duplicates, gives identical stores', async t => {
  fc.assert(fc.property(
    fc.array(arbEntry, { minLength: 1, maxLength: 25 }).map(uniqueWrites),
    fc.array(fc.nat(), { maxLength: 15 }),
    fc.array(fc.nat(), { maxLength: 15 }),
    fc.integer(),
    fc.integer(),
    (entries, dupsA, dupsB, seedA, seedB) => {
      const deliveries = (dups: number[], seed: number): number[] => {
        const order = [...entries.keys(), ...dups.map(d => d % entries.length)]
        // a deterministic shuffle from the generated seed (fast-check shrinks it)
        let s = seed >>> 0
        for (let i = order.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0
          const j = s % (i + 1)
          const tmp = order[i] as number
          order[i] = order[j] as number
          order[j] = tmp
        }
        return order
      }
      const stores = [deliveries(dupsA, seedA), deliveries(dupsB, seedB), [...entries.keys()].reverse()].map(order => {
        const { store } = makeStore({ nodeId: 'receiver' })
        for (const i of order) {
          const { key, ...entry } = entries[i] as { key: string } & Entry
          store.merge(key, entry)
        }
        return store
      })
      const [first, ...rest] = stores.map(dump)
      for (const d of rest) if (d !== first) throw new Error(`stores differ:\n${first}\n${d}`)
      // and the winner for each key is its largest version
      const { store } = makeStore({ nodeId: 'receiver' })
      for (const key of KEYS) {
        const mine = entries.filter(e => e.key === key)
        if (mine.length === 0) continue
        const best = mine.reduce((x, y) => compareVersions(x, y) >= 0 ? x : y)
        const { key: _k, ...entry } = best
        store.merge(key, entry)
      }
      if (dump(store) !== first) throw new Error(`not the largest versions:\n${dump(store)}\n${first}`)
    }
  ), { numRuns: 500 })
  t.pass('500 runs')
})
