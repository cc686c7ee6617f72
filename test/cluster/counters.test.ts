import { cpSync, rmSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { roundMark, waitRounds } from '../helpers/converge.js'
import { clientOf, kill9, startOn, waitCompactions, type ServerChild } from '../helpers/durable.js'
import { FaultNet } from '../helpers/fault.js'
import { seededRandom } from '../helpers/fixtures.js'
import { allUpAt, caller, callOnce, connect, holdFor, plain, spawnServer, tempDir, waitFor, type Address, type Teardown } from '../helpers/server.js'

// CONTRACT G7 (PROTOCOL.md §Counters) under faults, with exact values: every
// acknowledged INCR/INCRBY/DECR/DECRBY counts once at every node after a
// partition (both ways or one way) heals; a SET or DEL made on one side of a
// partition replaces exactly what its node had seen, and the increments it had
// not seen land on top; a node killed with -9 under increments comes back with
// its contribution, nothing counted twice; counter records survive a restart,
// from the log and from a compacted log.
// KEYSTONE_SEED=<n> replays the random deltas of a run; each run logs its seed.


const seed = process.env.KEYSTONE_SEED !== undefined ? Number(process.env.KEYSTONE_SEED) : Date.now() % 100000
t.comment(`seed ${seed} (replay with KEYSTONE_SEED=${seed})`)
const random = seededRandom(seed)

interface Op { args: string[], delta: bigint }

/** One of INCR, DECR, INCRBY, DECRBY with a small delta, some negative (INCRBY -d and DECRBY d). */
function randomOp (key: string): Op {
  const r = random()
  const d = BigInt(1 + Math.floor(random() * 9))
  if (r < 0.15) return { args: ['INCR', key], delta: 1n }
  if (r < 0.25) return { args: ['DECR', key], delta: -1n }
  if (r < 0.6) return { args: ['INCRBY', key, String(d)], delta: d }
  if (r < 0.8) return { args: ['DECRBY', key, String(d)], delta: -d }
  return { args: ['INCRBY', key, String(-d)], delta: -d }
}

/**
 * A client sending random increments to one key, up to `window` in flight,
 * until stop() or its connection is gone. `acked` sums the deltas that got an
 * integer reply; `unanswered` holds those whose reply never came (the node
 * died: they may or may not have counted).
 */
class Incrementer {
  acked = 0n
  count = 0
  readonly errors: string[] = []
  readonly unanswered: bigint[] = []
  private stopped = false
  private running: Promise<void> | null = null

  constructor (private readonly client: RespClient, private readonly key: string, private readonly window: number) {}

  static async connect (t: Teardown, at: KeystoneNode | Address, key: string, window = 2): Promise<Incrementer> {
    const address = 'address' in at ? at.address() : at
    const client = await RespClient.connect({ host: address.host, port: address.port, connectTimeoutMs: 2000 })
    t.teardown(() => client.close())
    return new Incrementer(client, key, window)
  }

  start (): this {
    this.running ??= this.loop()
    return this
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.running
  }

  private async loop (): Promise<void> {
    const inFlight = new Set<Promise<void>>()
    while (!this.stopped && !this.client.closed) {
      const op = randomOp(this.key)
      const p: Promise<void> = this.client.call(op.args).then(reply => {
        if (typeof reply === 'number') {
          this.acked += op.delta
          this.count++
        } else {
          this.errors.push(`${op.args.join(' ')}: ${String(reply)}`)
        }
      }, () => { this.unanswered.push(op.delta) }).finally(() => { inFlight.delete(p) })
      inFlight.add(p)
      if (inFlight.size >= this.window) await Promise.race(inFlight)
      await holdFor(1, 'pacing: each client increments at a rate, leaving the nodes time for their links')
    }
    await Promise.all(inFlight)
  }
}

const sumAcked = (ws: readonly Incrementer[]): bigint => ws.reduce((s, w) => s + w.acked, 0n)
const countAcked = (ws: readonly Incrementer[]): number => ws.reduce((s, w) => s + w.count, 0)

/** Waits until each incrementer has `more` acknowledged increments beyond `from[i]`. */
async function moreAcked (ws: readonly Incrementer[], from: readonly number[], more: number, what: string, timeoutMs = 8000): Promise<void> {
  await waitFor(() => ws.every((w, i) => w.count >= (from[i] ?? 0) + more), timeoutMs, what)
}

/** Waits until `from` sees its link to `to` down (nothing more it sends is on its way). */
async function seesDown (from: KeystoneNode, to: KeystoneNode): Promise<void> {
  await waitFor(() => from.cluster.members.get(to.cluster.advertise)?.link.status !== 'ready', 4000, `${from.cluster.advertise} to see ${to.cluster.advertise} down`)
}

type Call = (...args: string[]) => Promise<unknown>

interface Tap extends Teardown {
  comment: (...message: unknown[]) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  same: (found: unknown, wanted: unknown, message: string) => unknown
  ok: (value: unknown, message: string) => unknown
}

/**
 * Polls until GET `key` at every node is `want`; then checks it exactly, and
 * that it stays so once anti-entropy rounds have run and collection had its
 * chance (grace 0), and that one more INCR at each node in turn adds exactly 1.
 */
async function expectEverywhere (t: Tap, nodes: readonly KeystoneNode[], calls: readonly Call[], key: string, want: string | null): Promise<void> {
  const read = async (): Promise<unknown[]> => Promise.all(calls.map(async c => await c('GET', key)))
  let last: unknown[] = []
  try {
    await waitFor(async () => { last = await read(); return last.every(v => v === want) }, 5000, `GET ${key} = ${String(want)} at every node`)
  } catch (err) {
    t.same(last, calls.map(() => want), `GET ${key} at every node (never converged: ${String(err)})`)
    return
  }
  t.same(last, calls.map(() => want), `every node reads ${key} = ${String(want)}`)
  await waitRounds(roundMark(nodes), 2, 8000)
  t.same(await read(), calls.map(() => want), `still ${String(want)} after two anti-entropy rounds (marks and contributions collected)`)
  let expected = want === null ? 0n : BigInt(want)
  for (const [i, c] of calls.entries()) {
    expected++
    t.equal(await c('INCR', key), Number(expected), `an INCR at node ${i} afterwards gives ${expected}`)
  }
}

/** Three in-process nodes behind proxies, a caller to each (tombstones and marks collected at once). */
async function faultNet (t: Tap): Promise<{ net: FaultNet, nodes: KeystoneNode[], calls: Call[] }> {
  const net = new FaultNet(t, { tombstoneGraceMs: 0 })
  const nodes = await net.start(3)
  const calls = await Promise.all(nodes.map(async n => caller(await connect(t, n)) as Call))
  return { net, nodes, calls }
}

/**
 * Two clients per node increment one key concurrently; `fault` cuts links
 * (and waits until the nodes see it); more increments on every side; heal;
 * every node must read the sum of every acknowledged increment.
 */
async function incrementsAcross (t: Tap, fault: (net: FaultNet, nodes: KeystoneNode[]) => Promise<void>): Promise<void> {
  const { net, nodes, calls } = await faultNet(t)
  const ws: Incrementer[] = []
  for (const n of nodes) for (let i = 0; i < 2; i++) ws.push(await Incrementer.connect(t, n, 'hits'))
  for (const w of ws) w.start()
  await moreAcked(ws, [], 25, 'increments at every node before the cut')
  await fault(net, nodes)
  const cut = ws.map(w => w.count)
  await moreAcked(ws, cut, 40, 'increments at every node during the cut')
  const during = await Promise.all(calls.map(async c => await c('GET', 'hits')))
  await Promise.all(ws.map(w => w.stop()))
  t.same(ws.flatMap(w => w.errors), [], 'no increment was refused')
  t.same(ws.flatMap(w => w.unanswered), [], 'every increment was answered')
  t.comment(`values during the cut: ${during.join(' ')}`)
  const total = sumAcked(ws)
  net.heal()
  t.comment(`${countAcked(ws)} increments acknowledged, summing to ${total}`)
  await expectEverywhere(t, nodes, calls, 'hits', total.toString())
}

t.test('INCR/INCRBY/DECR/DECRBY at all three nodes while one is partitioned away: every acknowledged increment counts, once, everywhere', async t => {
  await incrementsAcross(t, async (net, nodes) => {
    const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
    net.isolate(2)
    await Promise.all([seesDown(a, c), seesDown(b, c), seesDown(c, a), seesDown(c, b)])
  })
})

t.test('the same with a one-way cut (A sends to B, B cannot send to A), healed', async t => {
  await incrementsAcross(t, async (net, nodes) => {
    const [a, b] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
    net.cutOneWay(1, 0)
    await Promise.all([seesDown(a, b), seesDown(b, a)])
  })
})

/** Random increments of `key` at `call`, one at a time (each acknowledged); their sum. */
async function incrementSeq (t: Tap, call: Call, key: string, n: number): Promise<bigint> {
  let sum = 0n
  for (let i = 0; i < n; i++) {
    const op = randomOp(key)
    const reply = await call(...op.args)
    t.ok(typeof reply === 'number', `${op.args.join(' ')} acknowledged`)
    sum += op.delta
  }
  return sum
}

/** {A} | {B, C}, each side seeing the other down. */
async function isolateA (net: FaultNet, nodes: readonly KeystoneNode[]): Promise<void> {
  const [a, b, c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
  net.isolate(0)
  await Promise.all([seesDown(a, b), seesDown(a, c), seesDown(b, a), seesDown(c, a)])
}

t.test('a SET at A concurrent with increments at B and C: every node ends with the SET plus the increments A had not seen', async t => {
  const { net, nodes, calls } = await faultNet(t)
  const [atA, atB, atC] = calls as [Call, Call, Call]
  // Before the cut: acknowledged means every node holds them, so A's SET sees them.
  const before = await incrementSeq(t, atA, 'k', 5) + await incrementSeq(t, atB, 'k', 5) + await incrementSeq(t, atC, 'k', 5)
  t.equal(await atA('GET', 'k'), before.toString(), 'A holds every increment made before the cut')
  await isolateA(net, nodes)
  const seenByA = await incrementSeq(t, atA, 'k', 3) // A's own, before its SET: replaced by it
  let unseen = await incrementSeq(t, atB, 'k', 10) + await incrementSeq(t, atC, 'k', 10)
  t.equal(await atB('GET', 'k'), (before + unseen).toString(), 'B holds its side\'s increments')
  t.equal(await atA('GET', 'k'), (before + seenByA).toString(), 'A holds its own')
  t.equal(await atA('SET', 'k', '1000'), 'OK')
  unseen += await incrementSeq(t, atB, 'k', 5) + await incrementSeq(t, atC, 'k', 5)
  t.equal(await atA('INCRBY', 'k', '5'), 1005, 'an increment at A after its SET counts on top of it')
  t.equal(await atA('GET', 'k'), '1005')
  net.heal()
  await expectEverywhere(t, nodes, calls, 'k', (1005n + unseen).toString())
})

t.test('a DEL at A concurrent with increments at B: every node ends with exactly the increments A had not seen', async t => {
  const { net, nodes, calls } = await faultNet(t)
  const [atA, atB] = calls as [Call, Call, Call]
  const before = await incrementSeq(t, atA, 'd', 5) + await incrementSeq(t, atB, 'd', 5)
  t.equal(await atA('GET', 'd'), before.toString(), 'A holds every increment made before the cut')
  await isolateA(net, nodes)
  let unseen = await incrementSeq(t, atB, 'd', 10)
  await incrementSeq(t, atA, 'd', 3) // A's own, before its DEL: removed by it
  t.equal(await atA('DEL', 'd'), 1)
  t.equal(await atA('GET', 'd'), null, 'gone at A')
  unseen += await incrementSeq(t, atB, 'd', 5)
  net.heal()
  await expectEverywhere(t, nodes, calls, 'd', unseen.toString())
})

// Real processes from here (as test/cluster/crash.test.ts and test/persistence/kill9.test.ts).

type Node = ServerChild

const addr = (a: Address): string => `${a.host}:${a.port}`



/** Every sum of a subset of `deltas`: the values the unanswered increments allow. */
function subsetSums (deltas: readonly bigint[]): Set<bigint> {
  let sums = new Set<bigint>([0n])
  for (const d of deltas) sums = new Set([...sums, ...[...sums].map(s => s + d)])
  return sums
}

async function killUnderIncrements (t: Tap, fsync: string[]): Promise<void> {
  const dirs = [tempDir(t), tempDir(t), tempDir(t)]
  const flags = (i: number): string[] => ['--data-dir', dirs[i] ?? '', ...fsync]
  const a = await spawnServer(t, ['--port', '0', ...flags(0)])
  const b = await spawnServer(t, ['--port', '0', ...flags(1), '--join', addr(a)])
  const c = await spawnServer(t, ['--port', '0', ...flags(2), '--join', addr(a)])
  await waitFor(() => allUpAt([a, b, c]), 5000, 'three nodes up')
  // At C, one increment in flight per client: what the kill leaves uncertain is
  // at most one known delta per client, so the final value is exact up to which
  // of those few counted.
  const atC = await Promise.all([0, 1, 2].map(async () => (await Incrementer.connect(t, c, 'k', 1)).start()))
  const onlyC = (await Incrementer.connect(t, c, 'c-only', 1)).start() // a key only C increments
  const others = [await Incrementer.connect(t, a, 'k'), await Incrementer.connect(t, b, 'k')].map(w => w.start())
  await moreAcked(atC, [], 60, 'increments at C before the kill')
  await holdFor(random() * 200, 'pacing: the kill lands at a random moment of the increments')
  await kill9(c)
  await Promise.all([...atC, onlyC].map(w => w.stop()))
  const unanswered = atC.flatMap(w => w.unanswered)
  t.ok(unanswered.length <= 3, `at most one unanswered increment per client at C (${unanswered.join(', ') || 'none'})`)
  const onlyAllowed = [...subsetSums(onlyC.unanswered)].map(s => (onlyC.acked + s).toString())
  // C's own log holds its contribution: a copy of its directory, started alone
  // (its member list removed, so it dials no one), reads it back.
  const copy = tempDir(t)
  cpSync(dirs[2] ?? '', copy, { recursive: true })
  rmSync(path.join(copy, 'members'), { force: true })
  const alone = await startOn(t, copy, fsync)
  const fromLog = String(plain(await callOnce(alone, 'GET', 'c-only')))
  t.ok(onlyAllowed.includes(fromLog), `C's log alone gives c-only = ${fromLog}: its ${onlyC.count} acknowledged increments (${onlyC.acked}), plus perhaps the unanswered one (${onlyC.unanswered.join(', ') || 'none'})`)
  await kill9(alone)
  await moreAcked(others, others.map(w => w.count), 20, 'increments at A and B while C is dead')
  const c2: Node = await spawnServer(t, ['--port', String(c.port), ...flags(2), '--join', addr(a)])
  await waitFor(() => allUpAt([a, b, c2]), 8000, 'the restarted node up')
  const again = (await Incrementer.connect(t, c2, 'k')).start()
  await moreAcked([again, ...others], [0, ...others.map(w => w.count)], 20, 'increments at every node after the restart')
  await Promise.all([again, ...others].map(w => w.stop()))
  const all = [...atC, again, ...others]
  t.same(all.flatMap(w => w.errors), [], 'no increment was refused')
  t.same([again, ...others].flatMap(w => w.unanswered), [], 'every increment at a live node was answered')
  const acked = sumAcked(all)
  const allowed = [...subsetSums(unanswered)].map(s => (acked + s).toString())
  t.comment(`${countAcked(all)} increments acknowledged (${countAcked(atC)} at C before the kill), summing to ${acked}; allowed ${allowed.join(' ')}`)
  const nodes = [a, b, c2]
  await waitFor(async () => new Set(await Promise.all(nodes.map(async n => String(plain(await callOnce(n, 'DIGEST')))))).size === 1, 5000, 'equal digests')
  const values = await Promise.all(nodes.map(async n => plain(await callOnce(n, 'GET', 'k'))))
  t.equal(new Set(values).size, 1, `every node reads the same (${values.join(' ')})`)
  t.ok(allowed.includes(String(values[0])), `k = ${String(values[0])}: the ${acked} acknowledged, plus some of the unanswered (${unanswered.join(', ') || 'none'}), none twice`)
  const onlyValues = await Promise.all(nodes.map(async n => String(plain(await callOnce(n, 'GET', 'c-only')))))
  t.equal(new Set(onlyValues).size, 1, `c-only reads the same at every node (${onlyValues.join(' ')}; C's log had ${fromLog})`)
  t.ok(onlyAllowed.includes(String(onlyValues[0])), `c-only = ${String(onlyValues[0])}: C's acknowledged increments, none twice`)
}

t.test('kill -9 a node under increments (--fsync always), restart it on its data: its contribution counts, once', async t => {
  await killUnderIncrements(t, ['--fsync', 'always'])
})

t.test('the same with the default --fsync (everysec)', async t => {
  await killUnderIncrements(t, [])
})

/** The counter keys of the single-node test and what each must read. */
async function checkValues (t: Tap, client: RespClient, want: Record<string, string | null>, when: string): Promise<void> {
  const keys = Object.keys(want)
  const got = plain(await client.call(['MGET', ...keys])) as Array<string | null>
  t.same(Object.fromEntries(keys.map((k, i) => [k, got[i] ?? null])), want, when)
}

async function restart (t: Tap, server: ServerChild, dir: string, flags: string[]): Promise<{ server: ServerChild, client: RespClient }> {
  await kill9(server)
  const next = await startOn(t, dir, flags)
  return { server: next, client: await clientOf(t, next) }
}

for (const grace of ['10000', '0']) {
  t.test(`one node on a data directory (tombstone grace ${grace} ms): counters read the same after a restart, from the log and from a compacted log`, async t => {
    const dir = tempDir(t)
    const flags = ['--tombstone-grace-ms', grace]
    let server = await startOn(t, dir, flags)
    let client = await clientOf(t, server)
    const call = async (...args: string[]): Promise<unknown> => plain(await client.call(args))
    const script: Array<[string[], unknown]> = [
      [['INCR', 'hits'], 1], [['INCR', 'hits'], 2], [['INCRBY', 'hits', '40'], 42], [['DECR', 'hits'], 41], [['DECRBY', 'hits', '-2'], 43],
      [['INCRBYFLOAT', 'price', '10.5'], '10.5'], [['INCRBYFLOAT', 'price', '0.1'], '10.6'], [['INCRBYFLOAT', 'price', '-3'], '7.6'],
      [['INCRBY', 'mixed', '5'], 5], [['INCRBYFLOAT', 'mixed', '0.25'], '5.25'],
      [['INCR', 'reset'], 1], [['INCRBY', 'reset', '9'], 10], [['SET', 'reset', '100'], 'OK'], [['INCR', 'reset'], 101], [['DECRBY', 'reset', '3'], 98],
      [['SET', 'fset', '2.5'], 'OK'], [['INCRBYFLOAT', 'fset', '1'], '3.5'],
      [['INCRBY', 'gone', '7'], 7], [['DEL', 'gone'], 1],
      [['INCRBY', 'back', '7'], 7], [['DEL', 'back'], 1], [['INCR', 'back'], 1], [['INCRBY', 'back', '4'], 5],
      [['INCR', 'text'], 1], [['SET', 'text', 'abc'], 'OK']
    ]
    for (const [args, want] of script) t.same(await call(...args), want, args.join(' '))
    const want: Record<string, string | null> = { hits: '43', price: '7.6', mixed: '5.25', reset: '98', fset: '3.5', gone: null, back: '5', text: 'abc' }
    await checkValues(t, client, want, 'before the restart')
    if (grace === '0') {
      // The marks the SETs and DELs left are queued like tombstones: wait until they are collected.
      const info = async (): Promise<string> => String(await call('INFO', 'replication'))
      await waitFor(async () => /^tombstones_queued:0\r?$/m.test(await info()) && /^tombstones:0\r?$/m.test(await info()), 5000, 'marks and tombstones collected')
    }
    ;({ server, client } = await restart(t, server, dir, flags))
    await checkValues(t, client, want, 'after kill -9 and a restart: replayed from the log')
    t.equal(await call('INCR', 'hits'), 44, 'INCR continues from the recovered value')
    t.equal(await call('INCRBYFLOAT', 'price', '0.4'), '8', 'INCRBYFLOAT too')
    t.equal(await call('INCR', 'gone'), 1, 'a deleted counter starts again from 0')
    Object.assign(want, { hits: '44', price: '8', gone: '1' })
    t.equal(await call('BGREWRITEAOF'), 'Background append only file rewriting started')
    await waitCompactions(client, 1)
    await checkValues(t, client, want, 'after compaction')
    ;({ server, client } = await restart(t, server, dir, flags))
    await checkValues(t, client, want, 'after a restart from the compacted log')
    t.equal(await call('INCRBY', 'back', '10'), 15, 'increments continue after the compacted log')
    t.equal(String(await call('INCR', 'text')), 'ERR value is not an integer or out of range', 'a text base takes no increments')
    ;({ server, client } = await restart(t, server, dir, flags))
    await checkValues(t, client, { ...want, back: '15' }, 'and once more after a restart')
  })
}
