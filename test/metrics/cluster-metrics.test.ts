import t from 'tap'
import type { KeystoneNode } from '../../lib/node.js'
import { startCluster, waitConverged } from '../helpers/cluster.js'
import { metricsAt, metricsOf, NO_PROMTOOL, promtoolCheck, scrape } from '../helpers/metrics.js'
import { caller, connect, startNode, toolSkip, waitFor } from '../helpers/server.js'

// keystone_* metrics of a real three-node cluster (README.md §Metrics): members
// by state, per-peer link state, pending acknowledgements, digest equality,
// syncs and their bytes, scraped over HTTP.

const peer = (node: KeystoneNode): string => node.cluster.advertise
const PROMTOOL_SKIP = toolSkip(t, NO_PROMTOOL)

t.test('three nodes: members by state, link states, digests, syncs; a stopped node shows down', async t => {
  const [a, b] = await startCluster(t, 2, { metricsPort: 0 }) as [KeystoneNode, KeystoneNode]
  const call = caller(await connect(t, a))
  for (let i = 0; i < 20; i++) t.equal(await call('SET', `k${i}`, 'v'.repeat(100)), 'OK')
  // The newcomer is empty: a and b each send it their whole state (PROTOCOL.md §State transfer).
  const c = await startNode(t, { metricsPort: 0, join: peer(a) })
  const nodes = [a, b, c]
  await waitConverged(nodes)

  for (const node of nodes) {
    const m = await metricsOf(node)
    const name = peer(node)
    t.equal(m.get('keystone_cluster_members{state="up"}'), 3, `${name}: three up, itself included`)
    for (const state of ['down', 'joining', 'syncing']) t.equal(m.get(`keystone_cluster_members{state="${state}"}`), 0, `${name}: none ${state}`)
    for (const other of nodes.filter(n => n !== node)) {
      t.equal(m.get(`keystone_peer_link_state{peer="${peer(other)}",state="ready"}`), 1, `${name} -> ${peer(other)}: ready`)
      t.equal(m.get(`keystone_peer_link_state{peer="${peer(other)}",state="down"}`), 0)
      t.equal(m.get(`keystone_peer_link_state{peer="${peer(other)}",state="connecting"}`), 0)
    }
    t.notOk([...m.values.keys()].some(k => k.includes(`peer="${name}"`)), `${name}: no series about itself`)
  }

  const atA = await metricsOf(a)
  t.ok(atA.get(`keystone_full_syncs_total{peer="${peer(c)}"}`) >= 1, 'a sent the newcomer its whole state')
  t.ok(atA.get(`keystone_sync_bytes_sent_total{peer="${peer(c)}"}`) > 20 * 100, 'at least the 20 values\' bytes')
  t.equal(atA.get(`keystone_full_syncs_total{peer="${peer(b)}"}`), 0, 'b joined an empty a: nothing to send')

  // A write everyone holds: pending acknowledgements drain, and each peer's next round reports our digest.
  t.equal(await call('SET', 'after', 'join'), 'OK')
  await waitFor(async () => {
    for (const node of nodes) {
      const m = await metricsOf(node)
      for (const other of nodes.filter(n => n !== node)) {
        if (m.get(`keystone_peer_digest_equal{peer="${peer(other)}"}`) !== 1) return false
        if (m.get(`keystone_peer_pending_acks{peer="${peer(other)}"}`) !== 0) return false
        if (m.get(`keystone_anti_entropy_rounds_total{peer="${peer(other)}"}`) < 1) return false
      }
    }
    return true
  }, 10000, 'every node to see every peer\'s digest equal to its own, no pending acks, a round run')
  t.pass('digests equal, acknowledgements drained, rounds counted at every node')

  const body = (await scrape(metricsAt(a))).body
  await t.test('promtool accepts the per-peer series', { skip: PROMTOOL_SKIP }, async t => {
    const { code, output } = await promtoolCheck(body)
    t.equal(code, 0, `promtool: ${output}`)
  })

  await c.close()
  await waitFor(async () => {
    const m = await metricsOf(a)
    return m.get('keystone_cluster_members{state="down"}') === 1 &&
      m.get(`keystone_peer_link_state{peer="${peer(c)}",state="ready"}`) === 0
  }, 5000, 'a to see c down')
  const m = await metricsOf(a)
  t.equal(m.get('keystone_cluster_members{state="up"}'), 2, 'a and b up')
  t.equal(m.get(`keystone_peer_link_state{peer="${peer(c)}",state="down"}`) + m.get(`keystone_peer_link_state{peer="${peer(c)}",state="connecting"}`), 1,
    'c\'s link is down or redialling')
  t.equal(m.get(`keystone_peer_digest_equal{peer="${peer(b)}"}`), 1, 'b still matches')

  // c's last reported root is from before this write, which c cannot have: not equal.
  t.equal(await call('SET', 'while-c-is-down', 'v'), 'OK')
  const after = await metricsOf(a)
  t.equal(after.get(`keystone_peer_digest_equal{peer="${peer(c)}"}`), 0, 'c\'s digest no longer equals a\'s')
  await waitFor(async () => (await metricsOf(a)).get(`keystone_peer_digest_equal{peer="${peer(b)}"}`) === 1, 5000, 'b\'s next round to report the new root')
  t.pass('b reports the new root again')

  // PROTOCOL.md §Metrics: a member removed has no series from the next scrape on.
  t.equal(await call('FORGET', peer(c)), 'OK')
  for (const node of [a, b]) {
    await waitFor(async () => (await metricsOf(node)).get('keystone_cluster_members{state="down"}') === 0, 5000, `${peer(node)} to drop c`)
    const series = [...(await metricsOf(node)).values.keys()].filter(k => k.includes(`peer="${peer(c)}"`))
    t.same(series, [], `${peer(node)}: no series about c after FORGET`)
    t.equal((await metricsOf(node)).get('keystone_cluster_members{state="up"}'), 2)
  }
})
