import t from 'tap'
import { DEFAULT_MAX_DRIFT_MS, HybridClock, MAX_LOGICAL, compareTimestamps, isWall, successor, type Timestamp } from '../../lib/store/clock.js'

function fakeClock (start: number, maxDriftMs?: number): { clock: HybridClock, set: (ms: number) => void } {
  let now = start
  const clock = new HybridClock({ now: () => now, maxDriftMs })
  return { clock, set: ms => { now = ms } }
}

t.test('tick uses the physical clock and resets the counter when it moves', async t => {
  const { clock, set } = fakeClock(1000)
  t.same(clock.tick(), { wall: 1000, logical: 0 })
  set(1005)
  t.same(clock.tick(), { wall: 1005, logical: 0 })
  t.same(clock.peek(), { wall: 1005, logical: 0 })
  t.equal(clock.physicalNow(), 1005)
})

t.test('a logical counter orders events within one millisecond', async t => {
  const { clock } = fakeClock(1000)
  const ts = [clock.tick(), clock.tick(), clock.tick()]
  t.same(ts, [{ wall: 1000, logical: 0 }, { wall: 1000, logical: 1 }, { wall: 1000, logical: 2 }])
})

t.test('monotonic when the physical clock goes backwards', async t => {
  const { clock, set } = fakeClock(5000)
  const seen: Timestamp[] = [clock.tick()]
  for (const ms of [4000, 4999, 5000, 3000, 5001, 10, 5001]) {
    set(ms)
    seen.push(clock.tick())
  }
  for (let i = 1; i < seen.length; i++) {
    t.ok(compareTimestamps(seen[i] as Timestamp, seen[i - 1] as Timestamp) > 0, `tick ${i} is later than tick ${i - 1}`)
  }
  t.same(seen[1], { wall: 5000, logical: 1 }, 'the wall part stays at the highest time seen')
  t.same(seen[5], { wall: 5001, logical: 0 }, 'and follows the physical clock again once it passes it')
  t.same(seen[7], { wall: 5001, logical: 2 })
})

t.test('a logical count at its 32-bit maximum goes on in the next millisecond', async t => {
  t.same(successor({ wall: 7, logical: 3 }), { wall: 7, logical: 4 })
  t.same(successor({ wall: 7, logical: MAX_LOGICAL - 1 }), { wall: 7, logical: MAX_LOGICAL }, 'up to the maximum')
  t.same(successor({ wall: 7, logical: MAX_LOGICAL }), { wall: 8, logical: 0 }, 'then the next millisecond')
  const { clock } = fakeClock(1000)
  clock.tick()
  clock.observe({ wall: 1000, logical: MAX_LOGICAL - 1 }) // a peer far on in logical time, this millisecond
  const ts = [clock.tick(), clock.tick(), clock.tick()]
  t.same(ts, [{ wall: 1000, logical: MAX_LOGICAL }, { wall: 1001, logical: 0 }, { wall: 1001, logical: 1 }], 'tick never passes 32 bits')
  t.ok(compareTimestamps(ts[1] as Timestamp, ts[0] as Timestamp) > 0, 'and still goes up')
})

t.test('isWall: a whole, non-negative millisecond', async t => {
  t.same([0, 1, Date.now()].map(isWall), [true, true, true])
  t.same([-1, 1.5, NaN, Infinity, 2 ** 53].map(isWall), [false, false, false, false, false])
})

t.test('observe moves the clock past a remote timestamp', async t => {
  const { clock, set } = fakeClock(1000)
  clock.tick()
  t.equal(clock.observe({ wall: 1500, logical: 7 }), true)
  t.same(clock.peek(), { wall: 1500, logical: 7 })
  t.same(clock.tick(), { wall: 1500, logical: 8 }, 'the next local event is after it though our clock reads 1000')
  t.equal(clock.observe({ wall: 1500, logical: 3 }), true, 'an older one is accepted')
  t.same(clock.peek(), { wall: 1500, logical: 8 }, 'but does not move the clock back')
  t.equal(clock.observe({ wall: 1200, logical: 99 }), true)
  t.same(clock.peek(), { wall: 1500, logical: 8 })
  t.equal(clock.observe({ wall: 1500, logical: 20 }), true, 'same wall, larger counter')
  t.same(clock.tick(), { wall: 1500, logical: 21 })
  set(2000)
  t.same(clock.tick(), { wall: 2000, logical: 0 }, 'the physical clock takes over when it passes')
})

t.test('observe refuses a timestamp more than maxDriftMs ahead', async t => {
  const { clock, set } = fakeClock(10_000, 1000)
  t.equal(clock.maxDriftMs, 1000)
  clock.tick()
  t.equal(clock.observe({ wall: 11_001, logical: 0 }), false, 'just over the drift')
  t.same(clock.peek(), { wall: 10_000, logical: 0 }, 'clock unchanged')
  t.same(clock.tick(), { wall: 10_000, logical: 1 })
  t.equal(clock.observe({ wall: 11_000, logical: 5 }), true, 'exactly at the drift is followed')
  t.same(clock.peek(), { wall: 11_000, logical: 5 })
  set(20_000)
  t.equal(clock.observe({ wall: 21_000, logical: 0 }), true, 'the bound moves with the physical clock')
})

t.test('the default drift bound', async t => {
  const { clock } = fakeClock(0)
  t.equal(clock.maxDriftMs, DEFAULT_MAX_DRIFT_MS)
  t.equal(DEFAULT_MAX_DRIFT_MS, 60_000)
  t.equal(clock.observe({ wall: 60_001, logical: 0 }), false)
  t.equal(clock.observe({ wall: 60_000, logical: 0 }), true)
})

t.test('compareTimestamps', async t => {
  t.ok(compareTimestamps({ wall: 1, logical: 9 }, { wall: 2, logical: 0 }) < 0)
  t.ok(compareTimestamps({ wall: 2, logical: 1 }, { wall: 2, logical: 0 }) > 0)
  t.equal(compareTimestamps({ wall: 2, logical: 1 }, { wall: 2, logical: 1 }), 0)
})
