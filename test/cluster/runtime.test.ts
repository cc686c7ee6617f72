import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { createLogger } from '../../lib/log.js'
import { timedOut } from '../../lib/cluster/removal.js'
import { ManualRuntime } from '../helpers/manual-runtime.js'

// The cluster code takes its time, timers, randomness and dialling from the
// Runtime it is given (lib/cluster/runtime.ts): on a ManualRuntime nothing
// happens until the test moves time on, and then exactly what is due happens.

t.test('timedOut: only a node that reaches a strict majority removes, and only members down past the timeout', async t => {
  const m = (addr: string, ready: boolean, downSince = 0): { addr: string, id: string, ready: boolean, downSince: number } => ({ addr, id: addr, ready, downSince })
  const now = 100_000
  t.same(timedOut([m('b', true), m('c', false, now - 5000)], 5000, now).remove.map(x => x.addr), ['c'], '2 of 3 reached: C goes')
  t.same(timedOut([m('b', true), m('c', false, now - 4999)], 5000, now).remove, [], 'not yet past the timeout')
  t.same(timedOut([m('b', false, 1), m('c', false, 1)], 5000, now).kept.map(x => x.addr), ['b', 'c'], '1 of 3 reached: nobody goes')
  t.same(timedOut([m('b', false, 1)], 5000, now).kept.map(x => x.addr), ['b'], 'two members: never a majority')
  t.same(timedOut([m('b', true), m('c', false, 1), m('d', false, 1)], 5000, now).kept.length, 2, '2 of 4 is no strict majority')
  t.same(timedOut([m('b', false, 1)], 0, now), { remove: [], kept: [] }, 'timeout 0: never')
})

t.test('peer links and --member-timeout run on the injected runtime, not on real time', async t => {
  const runtime = new ManualRuntime()
  const lines: string[] = []
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', memberTimeout: 5 }, { runtime, log: createLogger('info', line => lines.push(line)) })
  t.teardown(() => node.close())
  await node.start()
  node.cluster.learn('127.0.0.1:9')
  await runtime.advance(0)
  t.equal(runtime.dials.length, 1, 'the link dialled once, through the runtime')
  const member = node.cluster.members.get('127.0.0.1:9')
  t.equal(member?.downSince, runtime.now(), 'down since it was learned, by the injected clock')
  await runtime.advance(3000)
  const dials = runtime.dials.length
  t.ok(dials >= 6 && dials <= 40, `redials follow the injected clock: ${dials} in 3 s (at least once a second)`)
  t.notOk(lines.some(l => l.includes('--member-timeout')), 'nothing timed out at 3 s')
  await runtime.advance(3000)
  const warned = lines.filter(l => l.includes('reaches no majority'))
  t.equal(warned.length, 1, 'past 5 s: one warning that this node, alone of two, may not remove it')
  t.ok(node.cluster.members.has('127.0.0.1:9'), 'the member stays')
  await runtime.advance(5000)
  t.equal(lines.filter(l => l.includes('reaches no majority')).length, 1, 'said once')
})
