// One seeded schedule: a cluster of 3 to 5 nodes under random faults and
// client traffic, then healed and checked. The seed decides everything, so a
// failing schedule replays exactly (`npm run sim -- --seed N`).

import type { NodeOptions } from '../../lib/index.js'
import { compareVersions, type Entry } from '../../lib/store/entry.js'
import { joinField, sameField } from '../../lib/store/hash.js'
import { differences, lostOrResurrected, snapshot } from './checks.js'
import { counterFailures } from './counter-checks.js'
import { setFailures } from './set-checks.js'
import { SimNetwork } from './network.js'
import { Random } from './random.js'
import { Owner, Scheduler } from './scheduler.js'
import { SimNode, type SimWorld } from './sim-node.js'
import { covers, Workload, type OpKind } from './workload.js'

export interface ScheduleResult {
  readonly seed: number
  readonly ok: boolean
  readonly failures: string[]
  readonly history: string[]
  readonly ops: number
  readonly acked: number
  readonly faults: number
}

export interface ScheduleOptions {
  /** Simulated ms of faults and traffic. Default 8000. */
  chaosMs?: number
  /** Keep the whole history (else the last lines only). */
  fullHistory?: boolean
}

const START = 1_767_225_600_000 // 2026-01-01: simulated time starts here
const GRACE_MS = 1000
const KEYS = 12
/** Counter keys (PROTOCOL.md §Counters): INCRBY, SET to a number, DEL; checked by counter-checks.ts. */
const COUNTER_KEYS = ['c1', 'c2', 'c3', 'c4']
/** Hash keys (PROTOCOL.md §Hashes): field writes, removals, increments, DEL, PEXPIRE, SET over them; checked for convergence (no oracle yet). */
const HASH_KEYS = ['h1', 'h2', 'h3']
/** Set keys (PROTOCOL.md §Sets): SADD, SREM, SPOP, DEL, SMEMBERS; checked by set-checks.ts. SADD on hash keys makes type conflicts. */
const SET_KEYS = ['s1', 's2']
const MAX_TTL_MS = 3000
const MAX_SKEW_MS = 2000

export async function runSchedule (seed: number, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  // Commands that pick at random (SPOP, SRANDMEMBER, RANDOMKEY) use Math.random:
  // seeded here for the schedule, so that it replays exactly.
  const mathRandom = Math.random
  const picks = new Random(seed ^ 0x5eed5)
  Math.random = () => picks.float()
  try {
    return await schedule(seed, options)
  } finally {
    Math.random = mathRandom
  }
}

async function schedule (seed: number, options: ScheduleOptions): Promise<ScheduleResult> {
  const rng = new Random(seed)
  const sched = new Scheduler(START)
  const net = new SimNetwork(sched, rng)
  const history: string[] = []
  const failures: string[] = []
  const note = (line: string): void => {
    history.push(`${String(Math.round(sched.now - START)).padStart(6)} ${line}`)
    if (options.fullHistory !== true && history.length > 400) history.splice(0, 100)
  }
  const memberTimeout = rng.chance(0.3) ? rng.int(2, 4) : 0
  const nodeOptions: Partial<NodeOptions> = { tombstoneGraceMs: GRACE_MS, memberTimeout }
  const world: SimWorld = { sched, net, rng, note, options: nodeOptions }
  const count = rng.int(3, 5)
  net.maxDelay = rng.int(1, 20)
  const nodes: SimNode[] = []
  for (let i = 0; i < count; i++) {
    const n = new SimNode(`10.0.0.${i + 1}:1989`, world)
    if (rng.chance(0.4)) n.skewMs = rng.int(-MAX_SKEW_MS, MAX_SKEW_MS)
    nodes.push(n)
  }
  const work = new Workload(world)
  note(`seed ${seed}: ${count} nodes, link delay 1..${net.maxDelay} ms, skews ${nodes.map(n => n.skewMs).join(',')}, member-timeout ${memberTimeout}`)
  let faults = 0
  const resumeAt = new Map<SimNode, number>()
  const flaps = new Owner('flaps')

  /** Nodes whose start() (a JOIN over the network, perhaps) has not settled yet. */
  const starting = new Set<SimNode>()
  const down = new Map<SimNode, number>() // crashed nodes, with when to restart them
  /** Starts an incarnation; the simulation runs on meanwhile. One that cannot start is down, and tried again later. */
  const launch = (n: SimNode, join?: string): void => {
    starting.add(n)
    const started = n.start(join)
    work.watch(n)
    started.catch(err => {
      note(`${n.addr} failed to start: ${String(err)}`)
      n.crash('kill')
      down.set(n, sched.now + rng.int(500, 2000))
    }).finally(() => starting.delete(n))
  }

  const first = nodes[0] as SimNode
  launch(first)
  await sched.run(20_000, () => starting.size === 0)
  for (const n of nodes.slice(1)) {
    launch(n, first.addr)
    await sched.run(20_000, () => starting.size === 0)
  }
  await sched.run(3000, () => nodes.every(n => upEverywhere(n, nodes)))
  note('cluster formed')

  // Chaos: traffic at every node, faults now and then.
  const chaosEnd = sched.now + (options.chaosMs ?? 8000)
  while (sched.now < chaosEnd) {
    await sched.run(rng.int(5, 60))
    for (const n of nodes) if (n.alive && rng.chance(0.6)) issue(n)
    for (const [n, at] of down) {
      if (sched.now < at) continue
      down.delete(n)
      restart(n)
    }
    for (const [n, at] of resumeAt) {
      if (sched.now < at) continue
      resumeAt.delete(n)
      n.resume()
      note(`${n.addr} resumed`)
    }
    if (rng.chance(0.04)) { faults++; await fault() }
  }

  // Heal: every link, every pause, every crashed node back; traffic stops.
  net.healAll()
  for (const n of nodes) if (n.owner.paused) { n.resume(); note(`${n.addr} resumed`) }
  resumeAt.clear()
  for (let tries = 0; tries < 3 && (down.size > 0 || starting.size > 0); tries++) {
    for (const n of [...down.keys()]) restart(n)
    down.clear()
    await sched.run(20_000, () => starting.size === 0)
  }
  note('healed; traffic stops')
  const members = (): SimNode[] => nodes.filter(n => n.alive && !isRemoved(n))
  // Every TTL set during the chaos runs out, by every node's clock, before the data is compared.
  await sched.run(MAX_TTL_MS + MAX_SKEW_MS * 2)
  await sched.run(15_000, () => settled(members()))
  const live = members().map(n => ({ addr: n.addr, node: n.node as NonNullable<SimNode['node']> }))
  const now = sched.now
  if (!settled(members())) failures.push(`no convergence within 15 s of the heal: ${differences(live, now).join('; ') || 'members not all up'}`)
  failures.push(...differences(live, now))
  const removed = removedIds()
  const firstLive = live[0]
  if (firstLive !== undefined) {
    const final = snapshot(firstLive.node)
    failures.push(...lostOrResurrected(work.ops, final, removed, now, key => COUNTER_KEYS.includes(key) || SET_KEYS.includes(key) || HASH_KEYS.some(h => key === h || key === `${h}n`)))
    failures.push(...counterFailures(work.ops, final, COUNTER_KEYS, removed, now))
    failures.push(...setFailures(work.ops, final, SET_KEYS, removed, now))
  }
  // With every member up, the backlog drains within the grace plus a few rounds.
  await sched.run(GRACE_MS + 4000, () => live.every(m => backlog(m.node, removedIds()) === 0))
  for (const m of live) {
    const left = backlog(m.node, removedIds())
    if (left > 0) failures.push(`${m.addr}: ${left} tombstone(s) not collected ${GRACE_MS + 4000} ms after convergence: ${leftovers(m.node)}`)
  }
  failures.push(...sched.errors)
  for (const n of nodes) n.crash('kill')
  return {
    seed,
    ok: failures.length === 0,
    failures,
    history,
    ops: work.ops.length,
    acked: work.ops.filter(o => o.status === 'ok').length,
    faults
  }

  function removedIds (): Set<string> {
    const ids = new Set<string>()
    for (const n of nodes) for (const id of n.node?.cluster.retired.keys() ?? []) ids.add(id)
    return ids
  }

  function issue (n: SimNode): void {
    if (rng.chance(0.3)) { issueCounter(n); return }
    if (rng.chance(0.2)) { issueHash(n); return }
    if (rng.chance(0.2)) { issueSet(n); return }
    const key = `k${rng.int(1, KEYS)}`
    const roll = rng.float()
    let kind: OpKind = 'set'
    let args: string[]
    if (roll < 0.55) args = ['SET', key, `v${work.ops.length + 1}@${n.addr}`]
    else if (roll < 0.65) args = ['SET', key, `v${work.ops.length + 1}@${n.addr}`, 'PX', String(rng.int(50, MAX_TTL_MS))]
    else if (roll < 0.93) { kind = 'del'; args = ['DEL', key] }
    else if (roll < 0.96) { kind = 'wait'; args = ['WAIT', String(rng.int(0, 4)), String(rng.int(0, 200))] }
    else if (roll < 0.97) { kind = 'flushall'; args = ['FLUSHALL'] }
    else { kind = 'wait'; args = ['GET', key] }
    if (work.send(n, kind, key, args)) note(`${n.addr} <- ${args.join(' ')}`)
  }

  function issueCounter (n: SimNode): void {
    const key = rng.pick(COUNTER_KEYS)
    const roll = rng.float()
    let kind: OpKind = 'incr'
    let args: string[]
    if (roll < 0.65) args = ['INCRBY', key, String(rng.int(-3, 10))]
    else if (roll < 0.8) { kind = 'set'; args = ['SET', key, String(rng.int(0, 1000) * 1000 + work.ops.length % 1000)] }
    else if (roll < 0.95) { kind = 'del'; args = ['DEL', key] }
    else { kind = 'wait'; args = ['GET', key] }
    if (work.send(n, kind, key, args)) note(`${n.addr} <- ${args.join(' ')}`)
  }

  function issueHash (n: SimNode): void {
    const key = rng.pick(HASH_KEYS)
    const field = `f${rng.int(1, 4)}`
    const roll = rng.float()
    let args: string[]
    if (roll < 0.4) args = ['HSET', key, field, `v${work.ops.length + 1}@${n.addr}`, `f${rng.int(1, 4)}`, 'x']
    else if (roll < 0.6) args = ['HDEL', key, field, `f${rng.int(1, 4)}`]
    else if (roll < 0.75) args = ['HINCRBY', `${key}n`, field, String(rng.int(-3, 10))]
    else if (roll < 0.83) args = ['DEL', rng.chance(0.5) ? key : `${key}n`]
    else if (roll < 0.88) args = ['PEXPIRE', key, String(rng.int(50, MAX_TTL_MS))]
    else if (roll < 0.93) args = ['SET', key, `s${work.ops.length + 1}`]
    else args = ['HGETALL', key]
    if (work.send(n, 'hash', key, args)) note(`${n.addr} <- ${args.join(' ')}`)
  }

  function issueSet (n: SimNode): void {
    const key = rng.pick(SET_KEYS)
    const member = `m${rng.int(1, 4)}`
    const roll = rng.float()
    let kind: OpKind = 'sadd'
    let args: string[]
    if (roll < 0.45) args = ['SADD', key, member]
    else if (roll < 0.7) { kind = 'srem'; args = ['SREM', key, member, `m${rng.int(1, 4)}`] }
    else if (roll < 0.78) { kind = 'srem'; args = rng.chance(0.5) ? ['SPOP', key] : ['SPOP', key, String(rng.int(1, 3))] }
    else if (roll < 0.86) { kind = 'srem'; args = ['DEL', key] }
    else if (roll < 0.93) { kind = 'hash'; args = ['SADD', rng.pick(HASH_KEYS), member] } // a set against a hash or string: convergence only
    else { kind = 'wait'; args = ['SMEMBERS', key] }
    if (work.send(n, kind, key, args)) note(`${n.addr} <- ${args.join(' ')}`)
  }

  /** Whether the node's current id was removed, as any live node knows. */
  function isRemoved (n: SimNode): boolean {
    return removedIds().has(n.disk.nodeId) || n.node?.cluster.removedReason != null
  }

  function restart (n: SimNode): void {
    // A removed node comes back empty, as a new member (the only way back in); otherwise on its disk.
    if (isRemoved(n)) n.crash('wipe')
    // An operator starts an empty node with --join, at a member that is up if there is one:
    // not one still joining itself (two wiped nodes sent to each other would wait forever).
    const member = (o: SimNode): boolean => o !== n && o.alive && !isRemoved(o)
    const via = nodes.find(o => member(o) && o.node?.cluster.selfState !== 'joining') ??
      nodes.find(member) ?? rng.pick(nodes.filter(o => o !== n))
    // A node that never learned a member (new, or its join failed) is started with --join again.
    if (n.disk.members.length === 0) {
      note(`${n.addr} starts ${n.disk.records.length === 0 ? 'empty, as a new member' : 'on its data'}, joining ${via.addr}`)
      launch(n, via.addr)
    } else {
      note(`${n.addr} restarts on its data`)
      launch(n)
    }
  }

  async function fault (): Promise<void> {
    const a = rng.pick(nodes)
    const b = rng.pick(nodes.filter(x => x !== a))
    const roll = rng.float()
    if (roll < 0.2) {
      net.cut(a.addr, b.addr); net.cut(b.addr, a.addr); note(`cut ${a.addr} <-> ${b.addr}`)
    } else if (roll < 0.3) {
      net.cut(a.addr, b.addr); note(`cut ${a.addr} -> ${b.addr} (one way)`)
    } else if (roll < 0.45) {
      const side = nodes.filter(() => rng.chance(0.5))
      for (const x of side) for (const y of nodes) if (!side.includes(y)) { net.cut(x.addr, y.addr); net.cut(y.addr, x.addr) }
      note(`partition {${side.map(x => x.addr).join(' ')}} | rest`)
    } else if (roll < 0.6) {
      net.healAll(); note('heal all links')
    } else if (roll < 0.7) {
      if (a.alive && !a.owner.paused) {
        a.pause(); note(`${a.addr} paused`)
        resumeAt.set(a, sched.now + rng.int(300, 3000))
      }
    } else if (roll < 0.85) {
      if (a.alive && !down.has(a) && !starting.has(a)) {
        const mode = rng.pick(['kill', 'kill', 'power', 'wipe'] as const)
        const id = a.disk.nodeId
        const lost = a.crash(mode)
        // What only this node held is gone with the power (the --fsync everysec window), or with the disk.
        work.lostWithPower(id, lost, (key, entry) => nodes.filter(o => o !== a && o.alive && heldAtLeast(o, key, entry)).map(o => o.disk.nodeId), mode === 'wipe')
        note(`${a.addr} crashed (${mode}${lost.length > 0 ? `, ${lost.length} unsynced record(s) lost` : ''})`)
        down.set(a, sched.now + rng.int(200, 4000))
      }
    } else if (roll < 0.92) {
      // FORGET a node that is down, at a live member (the operator's removal of a dead node).
      const at = nodes.find(x => x.alive && !isRemoved(x) && x !== a)
      if (at !== undefined && !a.alive && !isRemoved(a) && work.send(at, 'wait', '', ['FORGET', a.addr])) note(`FORGET ${a.addr} at ${at.addr}`)
    } else {
      // A flap: cut and heal quickly.
      net.cut(a.addr, b.addr); net.cut(b.addr, a.addr)
      sched.after(rng.int(50, 400), flaps, () => { net.heal(a.addr, b.addr); net.heal(b.addr, a.addr) })
      note(`flap ${a.addr} <-> ${b.addr}`)
    }
  }
}

/** The tombstones a node still holds, with what it knows of their writers. */
function leftovers (node: NonNullable<SimNode['node']>): string {
  const out: string[] = []
  const ids = new Map<string, string>([[node.nodeId, 'self']])
  for (const m of node.cluster.members.values()) ids.set(m.id, m.addr)
  node.store.forEachEntry((key, e) => {
    if (e.value !== null || out.length >= 3) return
    const t = node.store.tombstoneLog.stableOf(e.node)
    out.push(`${key} v${e.wall}.${e.logical} by ${e.node.slice(0, 6)} (${ids.get(e.node) ?? 'not a member'}; T ${t === undefined ? 'none' : `${t.wall}.${t.logical}`})`)
  })
  if (process.env.SIM_DEBUG !== undefined) {
    const conv = node.cluster.convergence as unknown as { gone: Map<string, { since: number, max: { wall: number } }> }
    out.push(`[now ${node.cluster.runtime.now()} probes ${[...conv.gone].map(([w, p]) => `${w.slice(0, 6)} since ${p.since} max ${p.max.wall}`).join(';')} members ${[...node.cluster.members.values()].map(m => `${m.addr} id=${m.id.slice(0, 6)} cov=${node.cluster.convergence.peer(m).coveredFrom}/${node.cluster.convergence.peer(m).coveredAt} rep=${m.reported} link=${m.link.status}`).join('; ')}]`)
  }
  return out.join(', ')
}

/** Whether node `o` holds `key` at `entry`'s version or a newer one. */
function heldAtLeast (o: SimNode, key: string, entry: Entry): boolean {
  const e = o.node?.store.peek(key)
  if (e === undefined) return false
  if (entry.hash !== undefined) { // a hash or set record: each of its fields is in o's, or older than o's
    const fields = e.hash?.fields
    if (fields === undefined || e.hash?.set !== entry.hash.set) return false
    for (const [name, f] of entry.hash.fields) {
      const mine = fields.get(name)
      if (mine === undefined || !sameField(joinField(mine, f), mine)) return false
    }
    return true
  }
  if (entry.counter === undefined) return compareVersions(e, entry) >= 0
  return compareVersions(e, entry) >= 0 && entry.counter.contribs.every(c => covers(e, c, true))
}

function upEverywhere (n: SimNode, all: readonly SimNode[]): boolean {
  const cluster = n.node?.cluster
  if (cluster === undefined || cluster.selfState !== 'up') return false
  for (const o of all) {
    if (o === n) continue
    const m = cluster.members.get(o.addr)
    if (m === undefined || cluster.state(m) !== 'up') return false
  }
  return true
}

/** Every member up at every member, and the same digest everywhere. */
function settled (members: readonly SimNode[]): boolean {
  if (!members.every(n => upEverywhere(n, members))) return false
  const roots = new Set(members.map(n => n.node?.store.digest.rootHex()))
  return roots.size === 1
}

/** Tombstones left, not counting those written by a removed node (see PROTOCOL.md §Member removal). */
function backlog (node: NonNullable<SimNode['node']>, removed: ReadonlySet<string>): number {
  let n = 0
  node.store.forEachEntry((_k, e) => { if (e.value === null && !removed.has(e.node)) n++ })
  return n
}
