import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { waitConverged } from '../helpers/cluster.js'
import { dataDiff, digestsEqual, liveData, missing, UniqueWriter, waitDigestsEqual } from '../helpers/converge.js'
import { FaultNet } from '../helpers/fault.js'
import { seededRandom } from '../helpers/fixtures.js'
import { holdFor, tempDir, waitFor } from '../helpers/server.js'

// CONTRACT G2: a seeded, repeatable mix of writes, deletes, conflicting writes
// to shared keys, partitions (both ways and one way), connection resets and
// restarts, bounded in time, ending with every digest and every value equal
// and every acknowledged write of a unique key in place.
// KEYSTONE_SEED=<n> replays one schedule; each run logs its seed.


const NODES = 3
const STEPS = 14
const STEP_MS = 350

const seeds = process.env.KEYSTONE_SEED !== undefined ? [Number(process.env.KEYSTONE_SEED)] : [Date.now() % 100000, 4242]

for (const seed of seeds) {
  t.test(`random faults, seed ${seed}`, async t => {
    t.comment(`seed ${seed} (replay with KEYSTONE_SEED=${seed})`)
    const random = seededRandom(seed)
    const pick = (n: number): number => Math.floor(random() * n)
    const net = new FaultNet(t)
    // Each node has a data directory: a restart either loads it or starts afresh without one.
    const nodes = await net.start(NODES, () => ({ dataDir: tempDir(t) }))
    const writers: UniqueWriter[] = []
    const byNode: UniqueWriter[] = []
    let generation = 0
    const attach = async (i: number): Promise<void> => {
      const w = await UniqueWriter.connect(t, nodes[i] as KeystoneNode, `n${i}g${generation++}`, 3)
      writers.push(w)
      byNode[i] = w
      w.start()
    }
    for (let i = 0; i < NODES; i++) await attach(i)
    // Conflicting writes to a few shared keys, at random nodes: only convergence is checked for them.
    const shared = await Promise.all(nodes.map(async n => {
      const c = await RespClient.connect(n.address())
      t.teardown(() => c.close())
      return c
    }))
    let sharing = true
    const other = seededRandom(seed + 1) // its own stream: the schedule below stays the same whatever the timing
    const conflicts = (async () => {
      while (sharing) {
        const c = shared[Math.floor(other() * NODES)] as RespClient
        const key = `shared:${Math.floor(other() * 8)}`
        await c.call(other() < 0.25 ? ['DEL', key] : ['SET', key, `s${Math.floor(other() * 1000)}`]).catch(() => {})
        await holdFor(5, 'pacing: conflicting writes at a rate')
      }
    })()
    const log: string[] = []
    for (let step = 0; step < STEPS; step++) {
      const action = pick(7)
      if (action === 0) {
        const i = pick(NODES)
        net.isolate(i)
        log.push(`isolate ${i}`)
      } else if (action === 1) {
        const from = pick(NODES)
        const to = (from + 1 + pick(NODES - 1)) % NODES
        net.cutOneWay(from, to)
        log.push(`cut ${from}->${to}`)
      } else if (action === 2) {
        const a = pick(NODES)
        const b = (a + 1 + pick(NODES - 1)) % NODES
        net.cut(a, b)
        log.push(`cut ${a}<->${b}`)
      } else if (action === 3) {
        net.reset(pick(NODES))
        log.push('reset')
      } else if (action === 4 && step < STEPS - 2) {
        // Restart a node: on its data directory, at once; or empty (memory only) once it
        // holds nothing the others lack.
        const i = pick(NODES)
        const via = (i + 1) % NODES
        const keepData = pick(2) === 0 && nodes[i]?.options.dataDir !== ''
        net.heal()
        if (!keepData) await waitFor(() => digestsEqual(nodes), 4000, `convergence before a restart (${log.join(', ')})`)
        const old = byNode[i] as UniqueWriter
        await old.stop()
        nodes[i] = await net.restart(i, via, keepData)
        shared[i]?.close()
        shared[i] = await RespClient.connect((nodes[i] as KeystoneNode).address())
        await waitConverged(nodes, 5000)
        await attach(i)
        log.push(`restart ${i}${keepData ? ' with its data' : ' empty'}`)
      } else {
        net.heal()
        log.push('heal')
      }
      await holdFor(STEP_MS, 'pacing: each step of the schedule lasts STEP_MS under writes')
    }
    sharing = false
    await conflicts
    await Promise.all(writers.map(w => w.stop()))
    net.heal()
    t.comment(`schedule: ${log.join(', ')}`)
    // The bound is waitDigestsEqual's: past 3 s it fails the test with the digests it saw.
    const took = await waitDigestsEqual(nodes, 3000)
    t.comment(`equal digests ${took} ms after the last heal`)
    const first = liveData(nodes[0] as KeystoneNode)
    for (const n of nodes.slice(1)) t.same(dataDiff(first, liveData(n)), [], 'identical data')
    let acked = 0
    for (const w of writers) acked += w.acked.size
    for (const n of nodes) t.same(missing(n, writers), [], `every one of ${acked} acknowledged writes is in place`)
  })
}
