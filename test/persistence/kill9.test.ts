import t from 'tap'
import { clientOf, kill9, missingKeys, startOn, Writers } from '../helpers/durable.js'
import { holdFor, tempDir, waitFor } from '../helpers/server.js'

// CONTRACT G3: a write acknowledged by a node survives kill -9 of that node and
// its restart from the same data directory. Concurrent writers, a kill at a
// random moment, a restart, and every acknowledged write must be there; several
// rounds on one directory, so each restart also recovers what earlier ones did.

const WRITERS = 6

type Test = tap.Test

async function rounds (t: Test, fsync: string, count: number): Promise<void> {
  const dir = tempDir(t)
  const all = new Map<string, string>()
  for (let round = 0; round < count; round++) {
    const server = await startOn(t, dir, ['--fsync', fsync])
    const check = await clientOf(t, server)
    const bad = await missingKeys(check, all)
    t.same(bad, [], `round ${round}: every write acknowledged before the earlier kills is there`)
    check.close()
    const writers = await Writers.start(server, WRITERS, `r${round}w`)
    const before = all.size
    await waitFor(() => writers.acked.size >= 200, 10_000, 'writes to be acknowledged')
    await holdFor(Math.random() * 300, 'pacing: the kill lands at a random moment of the writes')
    await kill9(server)
    await writers.stop()
    t.equal(writers.errors, 0, `round ${round}: no write was refused`)
    for (const [k, v] of writers.acked) all.set(k, v)
    t.ok(all.size > before, `round ${round}: ${writers.acked.size} writes acknowledged before kill -9`)
  }
  const server = await startOn(t, dir, ['--fsync', fsync])
  const check = await clientOf(t, server)
  t.same(await missingKeys(check, all), [], `all ${all.size} acknowledged writes survived ${count} kills`)
  t.ok(Number(await check.call(['DBSIZE'])) >= all.size, 'DBSIZE counts them')
}

t.test('--fsync everysec: kill -9 at random moments under concurrent writers loses no acknowledged write', async t => {
  await rounds(t, 'everysec', 6)
})

t.test('--fsync always: the same', async t => {
  await rounds(t, 'always', 3)
})

t.test('--fsync no: the same (kill -9 is not a power failure: the OS has every record)', async t => {
  await rounds(t, 'no', 2)
})
