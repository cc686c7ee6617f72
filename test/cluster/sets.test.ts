import t from 'tap'
import { NodeProxy } from '../helpers/fault.js'
import { callOnce, caller, connect, holdFor, plain, spawnServer, tempDir, waitFor, type Address, type Child, type Teardown } from '../helpers/server.js'

// CONTRACT G7 for sets and hashes (PROTOCOL.md §Sets, §Hashes), with the real
// binaries: three keystone-server processes behind proxies are partitioned,
// take SADD, SREM, SPOP, SMOVE and DEL, and HSET, HDEL and HINCRBY, on both
// sides, and heal: every node ends with the members the add-wins rule gives (an
// add wins over a removal that had not seen it), the fields the field-level
// merge gives (each side's fields kept, an HDEL removing only what it had seen,
// increments added), a set written after a concurrent hash keeps the key, and
// the digests agree;
// and a one-member SADD to a 100,000-member set replicates in about that
// member's bytes (INFO replication).

type Call = (...args: string[]) => Promise<unknown>

interface Server extends Child, Address {
  /** The proxy in front of it: its address is the one peers know (--advertise). */
  readonly proxy: NodeProxy
  readonly source: string
}

/** `count` servers on 127.0.0.2, 127.0.0.3, ..., each behind a proxy, joined through the first's. */
async function spawnBehindProxies (t: Teardown, count: number): Promise<Server[]> {
  const out: Server[] = []
  for (let i = 0; i < count; i++) {
    const source = `127.0.0.${i + 2}`
    const proxy = new NodeProxy(source)
    t.teardown(() => proxy.close())
    await proxy.listen()
    const join = out[0] === undefined ? [] : ['--join', out[0].proxy.addr]
    const child = await spawnServer(t, ['--host', source, '--port', '0', '--advertise', proxy.addr, '--data-dir', tempDir(t), '--tombstone-grace-ms', '0', ...join])
    proxy.target = { host: child.host, port: child.port }
    out.push(Object.assign(child, { proxy, source }))
  }
  await waitFor(async () => (await Promise.all(out.map(async s => memberStates(s)))).every(states => states.length === count && states.every(st => st === 'up')), 10_000, 'every member up at every member')
  return out
}

async function memberStates (s: Address): Promise<string[]> {
  return (plain(await callOnce(s, 'MEMBERS')) as string[]).map(l => l.split(' ')[1] ?? '')
}

/** Bytes between servers a and b are held both ways (their clients still reach them). */
function cut (a: Server, b: Server): void {
  b.proxy.hold(a.source, 'in')
  a.proxy.hold(b.source, 'out')
  a.proxy.hold(b.source, 'in')
  b.proxy.hold(a.source, 'out')
}

/** Whether `from` sees its link to `to` down (nothing more it sends is on its way). */
async function seesDown (from: Server, to: Server): Promise<boolean> {
  const info = plain(await callOnce(from, 'INFO', 'replication')) as string
  const line = info.split('\r\n').find(l => l.includes(`addr=${to.proxy.addr},`)) ?? ''
  return !line.includes('link=ready')
}

/** HGETALL as sorted `field=value` (nodes may list merged fields in different orders). */
async function fields (call: Call, key: string): Promise<string[]> {
  const flat = await call('HGETALL', key) as string[]
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i] ?? ''}=${flat[i + 1] ?? ''}`)
  return out.sort()
}

async function members (call: Call, key: string): Promise<string[]> {
  return (await call('SMEMBERS', key) as string[]).slice().sort()
}

/** Polls until every node's view of each key is `want`; then the digests agree. */
async function expectEverywhere (t: Tap, servers: readonly Server[], calls: readonly Call[], want: Record<string, string[] | string>): Promise<void> {
  const view = async (call: Call): Promise<string> => {
    const out: Record<string, string[] | string> = {}
    for (const key of Object.keys(want)) {
      const type = String(await call('TYPE', key))
      out[key] = type === 'set' ? await members(call, key) : type === 'hash' ? await fields(call, key) : type
    }
    return JSON.stringify(out)
  }
  const wanted = JSON.stringify(want)
  let last: string[] = []
  try {
    await waitFor(async () => { last = await Promise.all(calls.map(view)); return last.every(v => v === wanted) }, 10_000, 'every node holding the merged sets')
  } catch (err) {
    t.fail(`never converged: ${String(err)}; views ${last.join(' | ')}`)
    return
  }
  for (const [i, v] of last.entries()) t.equal(v, wanted, `node ${i}: ${wanted}`)
  await waitFor(async () => new Set(await Promise.all(servers.map(async s => String(plain(await callOnce(s, 'DIGEST')))))).size === 1, 5000, 'equal digests')
  t.pass('equal digests')
}

interface Tap extends Teardown {
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  fail: (message: string) => unknown
  pass: (message: string) => unknown
}

t.test('real binaries, a partition healed: add wins over removals that had not seen the add; DEL, SPOP and SMOVE remove only what their node had seen; hash fields merge one by one; a set newer than a hash keeps the key', async t => {
  const servers = await spawnBehindProxies(t, 3)
  const [a, b, c] = servers as [Server, Server, Server]
  const [atA, atB, atC] = await Promise.all(servers.map(async s => caller(await connect(t, s)) as Call)) as [Call, Call, Call]
  // Before the cut: every node holds these (a write is answered once every peer holds it).
  t.equal(await atA('SADD', 'tags', 'red', 'green', 'blue'), 3)
  t.equal(await atA('SADD', 'online', 'u1', 'u2'), 2)
  t.equal(await atA('SADD', 'pool', 'only'), 1)
  t.equal(await atB('SADD', 'moved', 'm'), 1)
  t.equal(await atA('HSET', 'user', 'name', 'ada', 'email', 'old@x', 'city', 'rome'), 3)
  t.equal(await atB('HINCRBY', 'user', 'visits', '10'), 10)
  t.same(await members(atC, 'tags'), ['blue', 'green', 'red'])
  t.same(await fields(atC, 'user'), ['city=rome', 'email=old@x', 'name=ada', 'visits=10'])

  cut(a, b)
  cut(a, c)
  await waitFor(async () => await seesDown(a, b) && await seesDown(a, c) && await seesDown(b, a) && await seesDown(c, a), 8000, 'A cut off from B and C')
  // {A} | {B, C}
  t.equal(await atA('SREM', 'tags', 'red', 'blue'), 2) // A had seen red and blue
  t.equal(await atA('SADD', 'tags', 'from-a'), 1)
  t.equal(await atA('DEL', 'online'), 1) // A had seen u1 and u2
  t.equal(await atA('SPOP', 'pool'), 'only')
  t.equal(await atA('SMOVE', 'moved', 'dest', 'm'), 1)
  t.equal(await atA('HSET', 'kind', 'f', 'v'), 1)
  t.equal(await atB('SADD', 'tags', 'red'), 0) // red is there at B: the add counts anyway, unseen by A's SREM
  t.equal(await atB('SREM', 'tags', 'green'), 1)
  t.equal(await atC('SADD', 'tags', 'from-c'), 1)
  t.equal(await atC('SADD', 'online', 'u3'), 1) // concurrent with A's DEL
  t.equal(await atB('SADD', 'pool', 'only'), 0) // concurrent with A's SPOP of it
  t.equal(await atA('HSET', 'user', 'lang', 'en'), 1)
  t.equal(await atA('HDEL', 'user', 'email', 'city'), 2) // A had seen email=old@x and city
  t.equal(await atA('HINCRBY', 'user', 'visits', '2'), 12)
  t.equal(await atB('HSET', 'user', 'email', 'new@x'), 0) // concurrent with A's HDEL: not seen by it
  t.equal(await atC('HSET', 'user', 'phone', '555'), 1)
  t.equal(await atC('HINCRBY', 'user', 'visits', '3'), 13)
  await holdFor(5, 'versions follow the clock: the SADD must come a few ms after A\'s HSET')
  t.equal(await atB('SADD', 'kind', 'member'), 1) // after A's HSET in time, not having seen it
  t.same(await members(atA, 'tags'), ['from-a', 'green'], 'A during the cut')
  t.same(await members(atB, 'tags'), ['blue', 'from-c', 'red'], 'B during the cut')

  for (const s of servers) s.proxy.heal()
  await expectEverywhere(t, servers, [atA, atB, atC], {
    tags: ['from-a', 'from-c', 'red'], // red: B's add, unseen by A's SREM; blue: removed by A; green: removed by B
    online: ['u3'], // A's DEL removed u1 and u2, not u3
    pool: ['only'], // B's add was unseen by A's SPOP
    moved: 'none', // A's SMOVE removed m; nobody added it again
    dest: ['m'],
    kind: ['member'], // the set's write is the newer: it keeps the key
    user: ['email=new@x', 'lang=en', 'name=ada', 'phone=555', 'visits=15'] // city removed by A; email set again by B, unseen by A's HDEL; 10 + 2 + 3
  })
  // Removal records collected (grace 0) once stable: the members stay as they are.
  await holdFor(2500, 'two anti-entropy rounds, and collection, at every node')
  await expectEverywhere(t, servers, [atA, atB, atC], { tags: ['from-a', 'from-c', 'red'], online: ['u3'], pool: ['only'], moved: 'none', dest: ['m'], kind: ['member'], user: ['email=new@x', 'lang=en', 'name=ada', 'phone=555', 'visits=15'] })
  t.equal(await atC('SREM', 'tags', 'red'), 1, 'an SREM that has seen every add of red')
  await expectEverywhere(t, servers, [atA, atB, atC], { tags: ['from-a', 'from-c'] })
})

t.test('real binaries: an SADD of one member to a 100,000-member set replicates in about the bytes of that member', async t => {
  const a = await spawnServer(t, ['--port', '0', '--data-dir', tempDir(t)])
  const b = await spawnServer(t, ['--port', '0', '--data-dir', tempDir(t), '--join', `${a.host}:${a.port}`])
  await waitFor(async () => (await memberStates(a)).length === 2 && (await memberStates(b)).every(s => s === 'up'), 8000, 'two nodes up')
  const atA = caller(await connect(t, a)) as Call
  const atB = caller(await connect(t, b)) as Call
  const MEMBERS = Number(process.env.KEYSTONE_SET_MEMBERS ?? 100_000)
  for (let from = 0; from < MEMBERS; from += 5000) {
    const args = ['SADD', 'big']
    for (let i = from; i < from + 5000; i++) args.push(`member:${i}`)
    t.equal(await atA(...args), 5000)
  }
  t.equal(await atB('SCARD', 'big'), MEMBERS, 'B holds the whole set')
  const received = async (): Promise<{ bytes: number, writes: number }> => {
    const info = await atB('INFO', 'replication') as string
    const line = info.split('\r\n').find(l => l.includes(`${a.host}:${a.port}`) && l.includes('bytes_received=')) ?? ''
    return { bytes: Number(/bytes_received=(\d+)/.exec(line)?.[1] ?? NaN), writes: Number(/writes_received=(\d+)/.exec(line)?.[1] ?? NaN) }
  }
  const before = await received()
  const member = `new-member:${'x'.repeat(60)}`
  t.equal(await atA('SADD', 'big', member), 1)
  t.equal(await atB('SISMEMBER', 'big', member), 1, 'B holds the new member')
  const after = await received()
  const cost = after.bytes - before.bytes
  t.equal(after.writes - before.writes, 1, 'one write')
  t.ok(cost < member.length + 300, `one member (${member.length} bytes) replicated in ${cost} bytes`)
  t.comment(`a one-member SADD to a ${MEMBERS}-member set: ${cost} bytes on the wire for a ${member.length}-byte member`)
  t.equal(await atA('SREM', 'big', 'member:5'), 1)
  t.equal(await atB('SISMEMBER', 'big', 'member:5'), 0)
  t.equal(await atA('DIGEST') as string, await atB('DIGEST') as string, 'equal digests')
})
