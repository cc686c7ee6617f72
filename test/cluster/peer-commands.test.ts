import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { KeystoneNode } from '../../lib/node.js'
import { silentLogger } from '../../lib/log.js'
import { caller, connect, rawConnect, startNode, tempDir } from '../helpers/server.js'

// PROTOCOL.md §Peer links, §GOSSIP, §REPL, §MREPL, §SYNCED: the commands peers
// send each other, sent by hand.

const WRITER = 'ab'.repeat(20) // a writer's node id: 40 hex digits
const NOWHERE = '127.0.0.1:1' // a member address nothing answers at

t.test('REPL, MREPL and SYNCED are refused until the connection has sent GOSSIP', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const wall = String(Date.now())
  const repl = ['REPL', 'k', wall, '0', WRITER, '0', 'v']
  const mrepl = ['MREPL', WRITER, 'S', 'm', wall, '0', '0', 'v']
  const synced = ['SYNCED', NOWHERE]
  t.equal(String(await call(...repl)), "ERR 'REPL' is for peer links: send GOSSIP first")
  t.equal(String(await call(...mrepl)), "ERR 'MREPL' is for peer links: send GOSSIP first")
  t.equal(String(await call(...synced)), "ERR 'SYNCED' is for peer links: send GOSSIP first")
  t.equal(await call('GET', 'k'), null, 'the refused REPL wrote nothing')
  t.equal(await call('GET', 'm'), null, 'the refused MREPL wrote nothing')

  t.equal(String(await call('GOSSIP', NOWHERE, 'bad id', 'up')), 'ERR invalid node id', 'an id with a space')
  t.equal(String(await call('GOSSIP', NOWHERE, 'bad\r\nid', 'up')), 'ERR invalid node id', 'an id with CR LF')
  t.equal(String(await call('GOSSIP', NOWHERE, 'bad\nid', 'up')), 'ERR invalid node id', 'an id with LF')
  const crowd = Array.from({ length: 1025 }, () => NOWHERE)
  t.equal(String(await call('GOSSIP', NOWHERE, WRITER, 'up', ...crowd)), 'ERR too many members in GOSSIP (at most 1024)')
  t.equal(String(await call(...repl)), "ERR 'REPL' is for peer links: send GOSSIP first", 'a refused GOSSIP does not make a peer link')
  t.same(await call('MEMBERS'), [`${node.cluster.advertise} up self id=${node.nodeId} digest=${node.store.digest.rootHex()}`], 'refused GOSSIPs added no member')

  const reply = await call('GOSSIP', NOWHERE, WRITER, 'up')
  t.same(reply, [node.cluster.advertise, node.nodeId, 'up', `${NOWHERE}=${WRITER}`], 'GOSSIP answers with the node\'s address, id, state and members (address=id once known)')
  t.equal(await call(...repl), 'OK', 'REPL works on a peer link')
  t.equal(await call(...mrepl), 1, 'MREPL works on a peer link')
  t.equal(await call(...synced), 'OK', 'SYNCED works on a peer link')
  t.equal(await call('GET', 'k'), 'v')
  t.equal(await call('GET', 'm'), 'v')
  const members = await call('MEMBERS') as string[]
  t.equal(members.length, 2, 'the GOSSIP sender became a member')
  t.match(members[1], new RegExp(`^127\\.0\\.0\\.1:1 \\w+ id=${WRITER}`))

  const other = caller(await connect(t, node))
  t.equal(String(await other('REPL', 'k2', String(Date.now()), '0', WRITER, '0', 'v')), "ERR 'REPL' is for peer links: send GOSSIP first", 'another connection is not a peer link')
})

t.test('MREPL by hand: entries newer than held are applied and counted', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'old', 'x'), 'OK')
  t.equal(await call('SET', 'k', 'local'), 'OK')
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up')), 'a peer link now')
  const wall = Date.now() + 1000 // after the local writes, within the clock-drift bound
  const batch = [
    'MREPL', WRITER,
    'S', 'k', String(wall), '0', '0', 'v',
    'D', 'old', String(wall), '1', '0', ''
  ]
  t.equal(await call(...batch), 2, 'a write and a delete, both newer: 2 applied')
  t.equal(await call('GET', 'k'), 'v')
  t.equal(await call('GET', 'old'), null, 'D deleted the key')
  t.equal(await call('EXISTS', 'old'), 0)
  t.equal(await call(...batch), 0, 'the same entries again: none newer, 0 applied')
  t.equal(await call('MREPL', WRITER, 'S', 'k', String(wall - 1), '0', '0', 'older'), 0, 'an older version: 0 applied')
  t.equal(await call('GET', 'k'), 'v', 'and the value is unchanged')
  t.equal(await call('MREPL', WRITER, 'S', 'k', String(wall), '0', '0', 'older'), 0, 'an equal version: 0 applied')
  t.equal(await call('GET', 'k'), 'v')
  t.equal(await call('MREPL', WRITER, 'S', 'old', String(wall), '0', '0', 'back'), 0, 'a value older than the tombstone: 0 applied')
  t.equal(await call('GET', 'old'), null, 'the delete holds')

  t.equal(String(await call('MREPL', WRITER, 'X', 'k', String(wall + 1), '0', '0', 'v')), 'ERR invalid op in entry', 'op X')
  t.equal(String(await call('MREPL', WRITER, 'SS', 'k', String(wall + 1), '0', '0', 'v')), 'ERR invalid op in entry', 'op SS')
  t.equal(String(await call('MREPL', WRITER, 'S', 'k', String(wall + 1), '0', '0', 'v', 'S')), 'ERR syntax error', 'one field too many')
  t.equal(String(await call('MREPL', WRITER, 'S', 'k', String(wall + 1), '0', '0', 'v', 'S', 'j', String(wall + 1), '0', '0')), 'ERR syntax error', 'a second entry one field short')
  t.equal(await call('GET', 'k'), 'v', 'a batch with a bad field count applied nothing')
  t.equal(await call('GET', 'j'), null)

  const expiresAt = Date.now() + 100_000
  t.equal(await call('MREPL', WRITER, 'S', 'e', String(wall), '0', String(expiresAt), 'soon'), 1, 'an entry with an expiry')
  t.equal(await call('GET', 'e'), 'soon')
  const pttl = await call('PTTL', 'e') as number
  t.ok(pttl > 90_000 && pttl <= 100_000, `expiresAt in the future gives a TTL (PTTL ${pttl})`)
  t.equal(await call('MREPL', WRITER, 'S', 'gone', String(wall), '0', String(Date.now() - 1000), 'past'), 1, 'an entry already expired is applied as a version')
  t.equal(await call('GET', 'gone'), null, 'but never returned')
})

t.test('STABLE is taken for the sender\'s own id, and for another writer only after the sender\'s SYNCED', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const OTHER = 'cd'.repeat(20)
  const wall = String(Date.now() - 1000)
  t.equal(String(await call('STABLE', WRITER, wall, '0')), "ERR 'STABLE' is for peer links: send GOSSIP first")
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up')), 'a peer link now')
  t.equal(await call('STABLE', OTHER, wall, '0'), 'OK', 'a relay before SYNCED is answered...')
  t.equal(node.store.tombstoneLog.stableOf(OTHER), undefined, '...but ignored')
  t.equal(await call('STABLE', node.nodeId, wall, '0'), 'OK')
  t.equal(node.store.tombstoneLog.stableOf(node.nodeId), undefined, 'nobody else sets this node\'s own T')
  t.equal(await call('STABLE', WRITER, wall, '0'), 'OK')
  t.same(node.store.tombstoneLog.stableOf(WRITER), { wall: Number(wall), logical: 0 }, 'the sender\'s own T is taken')

  const other = caller(await connect(t, node))
  t.ok(Array.isArray(await other('GOSSIP', NOWHERE, OTHER, 'up')))
  t.equal(await other('STABLE', WRITER, String(Number(wall) + 5), '0'), 'OK')
  t.same(node.store.tombstoneLog.stableOf(WRITER), { wall: Number(wall), logical: 0 }, 'another peer cannot speak for WRITER before its SYNCED')

  t.equal(await call('SYNCED', NOWHERE, 'none'), 'OK')
  t.equal(await call('STABLE', OTHER, wall, '3'), 'OK')
  t.same(node.store.tombstoneLog.stableOf(OTHER), { wall: Number(wall), logical: 3 }, 'after SYNCED, a relay is taken')
  t.equal(node.store.tombstoneLog.stableAge(OTHER) < 1000, true, 'heard just now')
  t.equal(await call('STABLE', OTHER, wall, '3', '4000'), 'OK')
  t.equal(node.store.tombstoneLog.stableAge(OTHER) >= 4000, true, 'the same T with an age: heard 4 s ago, by the relaying peer')
  t.equal(String(await call('STABLE', OTHER, wall, '3', 'soon')), 'ERR invalid age in entry')
  t.equal(String(await call('STABLE', OTHER, wall, '3', '0', 'extra')), 'ERR syntax error')
})

t.test('a member address a peer reports under a new node id stays a member when the old id is removed', async t => {
  // PROTOCOL.md §Member removal: a node wiped and started again at the same
  // address is a new member. Removing its old id must not drop the address,
  // or this node would count stability without it (tombstones collected early).
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const OLD = 'cd'.repeat(20)
  const NEW = 'ef'.repeat(20)
  const THERE = '127.0.0.1:2' // the restarted node's address: nothing answers here
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up', `${THERE}=${OLD}`)), 'a peer lists the member with its old id')
  t.equal(node.cluster.members.get(THERE)?.id, OLD, 'learned with the id the peer gave')
  const reply = await call('GOSSIP', NOWHERE, WRITER, 'up', `${THERE}=${NEW}`) as string[]
  t.ok(reply.includes(`${THERE}=${OLD}`), 'a second-hand id does not replace one already held')
  t.equal(await call('FORGET', OLD), 'OK', 'the old id is removed')
  t.equal(node.cluster.members.get(THERE)?.id, NEW, 'the address stays a member, as the node peers reported there')
  const members = await call('MEMBERS') as string[]
  t.ok(members.some(line => line.startsWith(`${THERE} `) && line.includes(`id=${NEW}`)), 'MEMBERS lists it under its new id')
  t.equal(String(await call('GOSSIP', NOWHERE, WRITER, 'up', `127.0.0.1:3=${OLD}`)).startsWith('127.0.0.1:'), true, 'a GOSSIP listing the removed id is still answered')
  t.equal(node.cluster.members.has('127.0.0.1:3'), false, 'but the removed id is not learned at another address')

  const other = await startNode(t)
  const call2 = caller(await connect(t, other))
  t.ok(Array.isArray(await call2('GOSSIP', NOWHERE, WRITER, 'up', `${THERE}=${OLD}`)))
  t.equal(await call2('FORGET', OLD), 'OK')
  t.equal(other.cluster.members.has(THERE), false, 'with no other id reported there, removal drops the address (as before)')
})

t.test('a peer link silent past the failure timeout is stale: its next command is refused and the connection closed', async t => {
  // What a cut held that long was sent before the peer gave up on the link; it
  // could bring back what this node collected meanwhile (PROTOCOL.md §Tombstones).
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: silentLogger, timing: { failAfterMs: 300 } })
  t.teardown(() => node.close())
  await node.start()
  const raw = await rawConnect(t, node)
  const command = (...args: string[]): string => `*${args.length}\r\n${args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
  raw.send(command('GOSSIP', NOWHERE, WRITER, 'up'))
  raw.send(command('MREPL', WRITER, 'S', 'fresh', String(Date.now()), '0', '0', 'v'))
  const [gossip, applied] = await raw.replies(2)
  t.ok(Array.isArray(gossip), 'a peer link')
  t.equal(applied, 1, 'a command soon after the last is applied')
  await sleep(450) // the silence under test: past failAfterMs, with no heartbeat
  raw.send(command('MREPL', WRITER, 'S', 'stale', String(Date.now()), '0', '0', 'v'))
  const [refused] = await raw.replies(1)
  t.match(String(refused), /^ERR this peer link was silent for \d+ ms, past the failure timeout/)
  await raw.waitClosed()
  const call = caller(await connect(t, node))
  t.equal(await call('GET', 'fresh'), 'v')
  t.equal(await call('GET', 'stale'), null, 'the stale MREPL wrote nothing')
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up')), 'the peer may dial again')
  t.equal(await call('MREPL', WRITER, 'S', 'again', String(Date.now()), '0', '0', 'v'), 1, 'and its new link carries writes')
})

t.test('a link whose first peer commands arrive past the failure timeout after it opened is stale too (the simulator, seed 1205494)', async t => {
  // A link that opened just as a cut began: its GOSSIP and first MREPL were held
  // with everything else, and an MREPL from before a collection brought back a set member.
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: silentLogger, timing: { failAfterMs: 300 } })
  t.teardown(() => node.close())
  await node.start()
  const raw = await rawConnect(t, node)
  const command = (...args: string[]): string => `*${args.length}\r\n${args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
  await sleep(450) // the silence under test: past failAfterMs since the connection opened
  raw.send(command('GOSSIP', NOWHERE, WRITER, 'up') + command('MREPL', WRITER, 'S', 'held', String(Date.now()), '0', '0', 'v'))
  const [gossip, refused] = await raw.replies(2)
  t.ok(Array.isArray(gossip), 'GOSSIP makes it a peer link')
  t.match(String(refused), /^ERR this peer link was silent for \d+ ms, past the failure timeout/)
  await raw.waitClosed()
  const call = caller(await connect(t, node))
  t.equal(await call('GET', 'held'), null, 'the held MREPL wrote nothing')
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up')), 'a link that speaks at once is a peer')
  t.equal(await call('MREPL', WRITER, 'S', 'fresh', String(Date.now()), '0', '0', 'v'), 1, 'and carries writes')
})

t.test('a logical count must fit 32 bits; writes after a peer\'s at the maximum take the next millisecond, and are logged and replayed', async t => {
  const dir = tempDir(t)
  const node = await startNode(t, { dataDir: dir })
  const call = caller(await connect(t, node))
  t.ok(Array.isArray(await call('GOSSIP', NOWHERE, WRITER, 'up')), 'a peer link now')
  const wall = String(Date.now() + 2000) // ahead of the node's clock, within the drift bound: it follows
  const past = String(2 ** 32)
  t.equal(String(await call('REPL', 'k', wall, past, WRITER, '0', 'v')), 'ERR invalid logical in entry', 'REPL: 2^32')
  t.equal(String(await call('MREPL', WRITER, 'S', 'k', wall, past, '0', 'v')), 'ERR invalid logical in entry', 'MREPL: 2^32')
  t.equal(String(await call('STABLE', WRITER, wall, past)), 'ERR invalid logical in entry', 'STABLE: 2^32')
  t.equal(await call('GET', 'k'), null, 'nothing written')

  const max = String(2 ** 32 - 1)
  t.equal(await call('REPL', 'k', wall, max, WRITER, '0', 'v'), 'OK', 'the largest count 32 bits hold')
  for (const key of ['c', 'h', 's']) t.equal(await call('REPL', key, wall, max, WRITER, '0'), 'OK', `a delete of ${key}`)
  // Each write outranks the peer's version: (wall, 2^32 - 1) is followed by (wall + 1, 0), which
  // the log holds in its 32 bits (it threw on 2^32 before, after the store had changed).
  t.equal(await call('SET', 'k', 'mine'), 'OK')
  t.equal(await call('INCR', 'c'), 1)
  t.equal(await call('INCR', 'c'), 2)
  t.equal(await call('HSET', 'h', 'f', 'v'), 1)
  t.equal(await call('SADD', 's', 'm'), 1)
  for (const key of ['k', 'h', 's']) t.equal(node.store.peek(key)?.wall, Number(wall) + 1, `the write of ${key} over the peer's: the next millisecond`)
  t.equal(node.store.peek('c')?.counter?.contribs[0]?.wall, Number(wall) + 1, 'the increments too (a counter keeps them in its contribution)')
  await node.close()

  const again = await startNode(t, { dataDir: dir })
  const after = caller(await connect(t, again))
  t.same(await Promise.all([after('GET', 'k'), after('GET', 'c'), after('HGET', 'h', 'f'), after('SMEMBERS', 's')]), ['mine', '2', 'v', ['m']], 'every write replayed from the log')
})
