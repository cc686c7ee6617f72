import t from 'tap'
import { HybridClock } from '../../lib/store/clock.js'
import { compareVersions, type Entry } from '../../lib/store/entry.js'
import { Store } from '../../lib/store/store.js'

// PROTOCOL.md §Versions: a peer whose clock runs far ahead must not drag our
// clock with it, and must not win against writes made after its own.

const NOW = 1_700_000_000_000

function store (node: string): Store {
  return new Store({ nodeId: node, clock: new HybridClock({ now: () => NOW, maxDriftMs: 60_000 }) })
}

const remote = (value: string, wall: number, node: string): Entry => ({ value: Buffer.from(value), expiresAt: 0, wall, logical: 0, node })

t.test('a timestamp within the drift bound moves the clock; one beyond it does not', async t => {
  const s = store('local')
  s.merge('near', remote('near', NOW + 5_000, 'fast'))
  t.equal(s.clock.peek().wall, NOW + 5_000, 'followed: causality across nodes holds for seconds of skew')
  s.merge('far', remote('far', NOW + 10 * 60_000, 'very-fast'))
  t.equal(s.clock.peek().wall, NOW + 5_000, 'a write ten minutes ahead is stored but not followed')
  t.equal(s.get('far')?.value?.toString(), 'far', 'it is still applied, so every node converges on it')
})

t.test('a local write over a far-future value still wins, on every node', async t => {
  const a = store('a')
  const b = store('b')
  const ahead = remote('from the future', NOW + 10 * 60_000, 'skewed')
  a.merge('k', ahead)
  b.merge('k', ahead)
  const overwrite = { ...a.set('k', Buffer.from('later')) } // causally after the skewed write
  t.ok(compareVersions(overwrite, ahead) > 0, 'the overwrite outranks the version it replaced')
  t.equal(b.merge('k', overwrite), true, 'and wins at the other node too')
  t.equal(b.get('k')?.value?.toString(), 'later')
  const fresh = a.set('other', Buffer.from('x'))
  t.equal(fresh.wall, NOW, 'unrelated keys keep the local clock')
  t.ok(fresh.wall < ahead.wall, 'the skewed node does not push every later timestamp ten minutes ahead')
})
