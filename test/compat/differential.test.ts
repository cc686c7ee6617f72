import fc from 'fast-check'
import t from 'tap'
import { COMMAND_NAMES, generators } from '../helpers/diff-commands.js'
import { DiffConnection, encode, runSequence, type Outcome, type Side } from '../helpers/diff-runner.js'
import { findRedisServer, INSTALL_HINT, startRedisServer } from '../helpers/redis-server.js'
import { startNode, type Address, type Teardown } from '../helpers/server.js'

// Differential test (STYLE.md §Tests): the same random command sequences go to a
// real redis-server and to a Keystone node, and every reply must be the same
// bytes, except where diff-runner.ts names a rule (each one listed in
// PROTOCOL.md §Differences from Redis).
//
//   KEYSTONE_DIFF_COMMANDS=10000   how many commands to compare (default 3000)
//   KEYSTONE_DIFF_SEED=n           the first batch's seed (default: random, printed)
//   KEYSTONE_DIFF_PATH=p           with the seed of a failure: replay just its counterexample
//   KEYSTONE_DIFF_SELF=1           a second redis-server in Keystone's place: checks the oracle
//                                  itself (every command of the table, no false differences)

const TARGET = Number(process.env.KEYSTONE_DIFF_COMMANDS ?? 3000)
/** Sequences of up to this many items (a command, a MULTI block, a few SADDs), half of them after a few SADDs: about 14 commands on average. */
const MAX_ITEMS = 12
const binary = findRedisServer()

async function side (t: Teardown, address: Address, label: string): Promise<Side> {
  return { a: await DiffConnection.open(t, address, `${label} A`), b: await DiffConnection.open(t, address, `${label} B`) }
}

/** The names of `COMMAND_NAMES` that the server at `c` has (COMMAND INFO gives nil for the others). */
async function probe (c: DiffConnection): Promise<Set<string>> {
  const reply = (await c.request(encode(['COMMAND', 'INFO', ...COMMAND_NAMES], false))).value
  if (reply.type !== '*' || reply.items === null) throw new Error('COMMAND INFO did not answer an array')
  return new Set(COMMAND_NAMES.filter((_, i) => {
    const d = reply.items?.[i]
    return d !== undefined && d.type === '*' && d.items !== null
  }))
}

t.test('Keystone answers as redis-server does, byte for byte', {
  skip: binary === null ? `redis-server is not on PATH; ${INSTALL_HINT}` : false
}, async t => {
  if (binary === null) return
  if (!Number.isInteger(TARGET) || TARGET < 1) throw new TypeError('KEYSTONE_DIFF_COMMANDS must be a positive integer')
  t.setTimeout(Math.max(120_000, TARGET * 30))
  const redis = await side(t, await startRedisServer(t, binary), 'redis')
  const self = process.env.KEYSTONE_DIFF_SELF === '1'
  const keystone = await side(t, self ? await startRedisServer(t, binary) : (await startNode(t)).address(), 'keystone')
  if (self) t.comment('KEYSTONE_DIFF_SELF=1: a second redis-server stands in for Keystone')

  const inRedis = await probe(redis.a)
  const inKeystone = await probe(keystone.a)
  const supported = new Set([...inKeystone].filter(n => inRedis.has(n)))
  const skipped = COMMAND_NAMES.filter(n => !supported.has(n))
  t.comment(`commands compared: ${[...supported].join(' ')}`)
  if (skipped.length > 0) t.comment(`skipped (not in ${[...skipped].some(n => !inRedis.has(n)) ? 'Redis or ' : ''}Keystone yet): ${skipped.join(' ')}`)

  // Before each sequence: no transaction or WATCH left open on either connection, an empty store.
  const resets = [...['DISCARD', 'UNWATCH'].filter(n => supported.has(n)).map(n => [n]), ['FLUSHALL']]
  const { sequence } = generators(supported)
  const outcome: Outcome = { compared: 0, rules: new Map() }
  const replayPath = process.env.KEYSTONE_DIFF_PATH
  const firstSeed = process.env.KEYSTONE_DIFF_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.KEYSTONE_DIFF_SEED)
  const property = fc.asyncProperty(sequence(MAX_ITEMS), async steps => {
    await runSequence(redis, keystone, steps, resets, outcome)
  })
  // Batches until TARGET commands were compared; each batch replays from its own seed.
  let failed = false
  for (let batch = 0; outcome.compared < TARGET; batch++) {
    const seed = (firstSeed + batch) | 0
    const numRuns = Math.max(10, Math.ceil((TARGET - outcome.compared) / 12))
    t.comment(`batch ${batch}: seed ${seed}, ${numRuns} sequences (replay: KEYSTONE_DIFF_SEED=${seed})`)
    try {
      await fc.assert(property, { seed, numRuns, ...(replayPath === undefined ? {} : { path: replayPath }) })
    } catch (err) {
      // fast-check's report (seed, path, counterexample), then our transcript of the shrunk sequence (its cause).
      const cause = err instanceof Error && err.cause instanceof Error ? `\n\n${err.cause.message}` : ''
      t.comment(`${err instanceof Error ? err.message : String(err)}${cause}`)
      t.fail(`replies differ: see the transcript above; replay with KEYSTONE_DIFF_SEED=${seed} KEYSTONE_DIFF_PATH=<path above>`)
      failed = true
      break
    }
    if (replayPath !== undefined) break
  }
  t.comment(`${outcome.compared} commands compared with redis-server`)
  for (const [rule, n] of outcome.rules) t.comment(`let through by rule ${rule}: ${n}`)
  if (replayPath === undefined && !failed) t.ok(outcome.compared >= TARGET, `at least ${TARGET} commands compared`)
})
