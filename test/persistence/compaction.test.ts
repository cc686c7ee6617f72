import t from 'tap'
import { readdirSync } from 'node:fs'
import type { RespClient } from '../../lib/client/resp-client.js'
import { BUCKETS } from '../../lib/store/store.js'
import { clientOf, kill9, missingKeys, persistenceInfo, startOn, waitCompactions, Writers } from '../helpers/durable.js'
import { connect, holdFor, startNode, tempDir, waitFor } from '../helpers/server.js'

// FORMAT.md §Compaction: the log is replaced by a snapshot while clients write,
// and a crash at any moment of it loses no acknowledged write.

/** Store buckets the snapshot walks per turn of the event loop (FORMAT.md §Compaction: 16 of 4096). */
const STEP_BUCKETS = 16

/** `count` keys `pre:<i>` in MSETs of 1000; the map of what was written. */
async function prefill (client: RespClient, count: number): Promise<Map<string, string>> {
  const written = new Map<string, string>()
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i += 1000) {
    const args = ['MSET']
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      args.push(`pre:${j}`, `prefilled-${j}`)
      written.set(`pre:${j}`, `prefilled-${j}`)
    }
    pending.push(client.call(args))
  }
  await Promise.all(pending)
  return written
}

/** Only whole files: no leftovers of an interrupted snapshot, one current generation after a compaction. */
function dataFiles (dir: string): string[] {
  return readdirSync(dir).filter(f => f !== 'LOCK' && f !== 'node-id').sort()
}

t.test('automatic compactions under concurrent writers keep every acknowledged write', async t => {
  const dir = tempDir(t)
  const server = await startOn(t, dir, ['--compact-min-size', '65536', '--compact-percentage', '50'])
  const client = await clientOf(t, server)
  const writers = await Writers.start(server, 4, 'auto')
  await waitCompactions(client, 3, 20_000)
  await writers.stop()
  t.equal(writers.errors, 0, 'no write refused')
  t.equal(await persistenceInfo(client, 'aof_last_bgrewrite_status'), 'ok')
  await waitFor(async () => await persistenceInfo(client, 'aof_rewrite_in_progress') === '0', 10_000, 'the last compaction to end')
  const files = dataFiles(dir)
  t.ok(files.length === 2 && /^log-\d+\.ks$/.test(files[0] ?? '') && files[1] === files[0]?.replace('log', 'snapshot'), `one generation left: ${files.join(' ')}`)
  await kill9(server)
  const again = await startOn(t, dir)
  t.same(await missingKeys(await clientOf(t, again), writers.acked), [], `all ${writers.acked.size} acknowledged writes after a restart`)
})

t.test('kill -9 in the middle of a compaction under load loses nothing', async t => {
  const dir = tempDir(t)
  let expected = new Map<string, string>()
  for (let round = 0; round < 3; round++) {
    const server = await startOn(t, dir, ['--compact-percentage', '0'])
    const client = await clientOf(t, server)
    t.same(await missingKeys(client, expected), [], `round ${round}: everything from before is there`)
    t.notOk(readdirSync(dir).some(f => f.endsWith('.tmp')), `round ${round}: no temp file left after recovery`)
    if (round === 0) expected = await prefill(client, 150_000)
    const writers = await Writers.start(server, 4, `c${round}w`)
    await waitFor(() => writers.acked.size > 100, 10_000, 'writes')
    t.equal(await client.call(['BGREWRITEAOF']), 'Background append only file rewriting started')
    t.equal(await persistenceInfo(client, 'aof_rewrite_in_progress'), '1', `round ${round}: a compaction is running`)
    await holdFor(Math.random() * 150, 'pacing: the kill lands at a random moment of the compaction')
    await kill9(server)
    await writers.stop()
    for (const [k, v] of writers.acked) expected.set(k, v)
    t.equal(writers.errors, 0, `round ${round}: no write refused`)
  }
  const server = await startOn(t, dir)
  const client = await clientOf(t, server)
  t.same(await missingKeys(client, expected), [], `all ${expected.size} acknowledged writes after 3 crashes during compactions`)
})

t.test('a compaction of 150,000 keys serves clients between its steps', async t => {
  // FORMAT.md §Compaction: the snapshot is written a few buckets per turn of the event loop,
  // so clients are served between steps. Counted in buckets walked, not in ms: a client with
  // a PING always in flight gets a reply every couple of steps (a turn for the request, one
  // for the reply), however fast or busy the machine; a walk that held the event loop would
  // show thousands. The node runs in this process, so its store can count the buckets.
  const node = await startNode(t, { dataDir: tempDir(t), compactPercentage: 0 })
  const client = await connect(t, node)
  await prefill(client, 150_000)
  const probe = await connect(t, node)
  let walked = 0 // buckets walked since the probe's last reply
  let total = 0
  let worst = 0
  const forEachInBucket = node.store.forEachInBucket.bind(node.store)
  node.store.forEachInBucket = (bucket, fn) => {
    walked++
    total++
    forEachInBucket(bucket, fn)
  }
  let running = true
  const pinging = (async () => {
    while (running) {
      await probe.call(['PING'])
      worst = Math.max(worst, walked)
      walked = 0
    }
  })()
  await client.call(['BGREWRITEAOF'])
  await waitCompactions(client, 1, 30_000)
  running = false
  await pinging
  t.equal(total, BUCKETS, 'the snapshot walked every bucket')
  t.ok(worst <= 4 * STEP_BUCKETS, `a reply at least every 4 steps of ${STEP_BUCKETS} buckets (at most ${worst} buckets walked between two replies)`)
})
