// Client traffic and what it proves: each client (one per node, never cut
// off from it) sends one command at a time; every local write a node makes
// is matched to the command that made it, so the oracle knows the version of
// each acknowledged write and delete.

import type { RespClient } from '../../lib/client/resp-client.js'
import { RespClient as Client } from '../../lib/client/resp-client.js'
import { RespError, type RespValue } from '../../lib/protocol/reply-parser.js'
import type { Contribution } from '../../lib/store/counter.js'
import { compareVersions, type Entry, type Version } from '../../lib/store/entry.js'
import type { HashState } from '../../lib/store/hash.js'
import { Owner } from './scheduler.js'
import type { SimNode, SimWorld } from './sim-node.js'

export type OpKind = 'set' | 'del' | 'flushall' | 'wait' | 'incr' | 'hash' | 'sadd' | 'srem'

export interface Op {
  readonly id: number
  readonly node: string
  /** The id of the incarnation that took it (a removed id's writes may be lost). */
  readonly nodeId: string
  readonly kind: OpKind
  readonly key: string
  readonly value: string
  /** Absolute expiry by the node's clock (SET ... PX), 0 none. */
  expiresAt: number
  readonly sentAt: number
  status: 'pending' | 'ok' | 'error' | 'lost'
  reply: string
  /** Per key, once lost with a power loss or disk: the ids of the nodes that still held it (it may be gone if all are removed). */
  readonly survivors: Map<string, string[]>
  /** The local writes it made, by key (a FLUSHALL makes many); an INCRBY's is its contribution's version. */
  readonly writes: Map<string, Version & { deleted: boolean }>
  /** A write or delete of a counter key: the contributions its base had seen (PROTOCOL.md §Counters). */
  readonly marks: Map<string, readonly Contribution[]>
  /** An INCRBY: this node's contribution as the increment left it. */
  contribution: Contribution | null
  /** Of set keys (PROTOCOL.md §Sets), by key: each member an SADD added, with its add (this node's contribution as the add left it). */
  readonly setAdds: Array<{ key: string, member: string, add: Contribution }>
  /** Of set keys, by key: each member an SREM, SPOP, DEL or FLUSHALL removed, with the adds the removal had seen (its marks). */
  readonly setRemovals: Array<{ key: string, member: string, seen: readonly Contribution[] }>
}

/**
 * Whether `entry` holds the write `w` or a newer one. `increment`: w is the
 * version of an INCRBY's contribution, held by a contribution of its writer at
 * least as new, or by a base that had seen one.
 */
export function covers (entry: Entry, w: Version, increment: boolean): boolean {
  if (entry.hash?.set === true) { // a set's write: an add (a contribution) or a removal stamp of its writer at least as new
    const newer = (c: Version | null): boolean => c !== null && c.node === w.node && compareVersions(c, w) >= 0
    for (const f of entry.hash.fields.values()) if (newer(f.removed) || f.state.contribs.some(newer)) return true
    return false
  }
  if (!increment) return compareVersions(entry, w) >= 0
  const newer = (c: Version): boolean => c.node === w.node && compareVersions(c, w) >= 0
  return (entry.counter?.contribs.some(newer) ?? false) || (entry.counter?.seen.some(newer) ?? false)
}

export class Workload {
  readonly ops: Op[] = []
  private readonly clients = new Map<string, { client: RespClient, incarnation: number, busy: boolean }>()
  private readonly owner = new Owner('clients')

  constructor (private readonly world: SimWorld) {}

  /** Watches a new incarnation's local writes. */
  watch (sim: SimNode): void {
    const node = sim.node
    if (node === null) return
    const trace = process.env.SIM_TRACE_KEY
    node.store.onWrite((key, entry, local, fields) => {
      if (local && entry.hash?.set === true) this.attributeSet(sim.addr, key, entry.hash, fields ?? [])
      else if (local) this.attribute(sim.addr, key, entry)
      if (key === trace) this.world.note(`${sim.addr} ${local ? 'wrote' : 'merged'} ${key} = ${entry.value === null ? '(deleted)' : entry.value.toString('latin1')} v${entry.wall}.${entry.logical}@${entry.node.slice(0, 6)}`)
    })
  }

  /** Sends `args` to the node now, if its client is idle; false if it is busy or the node is down. */
  send (sim: SimNode, kind: OpKind, key: string, args: string[]): boolean {
    if (!sim.alive || sim.node === null) return false
    const c = this.client(sim)
    if (c === null || c.busy) return false
    const op: Op = {
      id: this.ops.length + 1,
      node: sim.addr,
      nodeId: sim.disk.nodeId,
      kind,
      key,
      value: kind === 'set' ? (args[2] ?? '') : '',
      expiresAt: 0,
      sentAt: this.world.sched.now,
      status: 'pending',
      reply: '',
      survivors: new Map(),
      writes: new Map(),
      marks: new Map(),
      contribution: null,
      setAdds: [],
      setRemovals: []
    }
    this.ops.push(op)
    c.busy = true
    this.pending.set(sim.addr, op)
    c.client.call(args).then(reply => {
      op.status = reply instanceof RespError ? 'error' : 'ok'
      op.reply = show(reply)
    }, () => { op.status = 'lost' }).finally(() => {
      c.busy = false
      if (this.pending.get(sim.addr) === op) this.pending.delete(sim.addr)
    })
    return true
  }

  private readonly pending = new Map<string, Op>()

  /**
   * A power loss (or a lost disk) took these local writes of node `nodeId`
   * with it; `holders` says which other nodes (by id) held each. One that only
   * removed members held may be gone, acknowledged or not (--fsync everysec
   * loses up to a second of what only this node had).
   */
  lostWithPower (nodeId: string, lost: ReadonlyArray<{ key: string, entry: Entry }>, holders: (key: string, entry: Entry) => string[], wholeDisk: boolean): void {
    for (const op of this.ops) {
      for (const [key, w] of op.writes) {
        // Lost where it was made: who else still holds it (that version or newer).
        const here = lost.find(r => r.key === key && holdsExactly(r.entry, w))
        const survivors = op.survivors.get(key)
        if (here !== undefined && w.node === nodeId && survivors === undefined) op.survivors.set(key, holders(key, here.entry))
        // Lost at one of those holders: one fewer.
        else if (survivors?.includes(nodeId) === true && (wholeDisk || lost.some(r => r.key === key && covers(r.entry, w, op.kind === 'incr')))) op.survivors.set(key, survivors.filter(id => id !== nodeId))
      }
    }
  }

  private attribute (addr: string, key: string, entry: Entry): void {
    const op = this.pending.get(addr)
    if (op === undefined || op.kind === 'hash') return // hash keys: converged and digests equal, no oracle yet
    if (op.kind === 'incr') {
      if (op.key !== key || entry.counter === undefined) return
      let c: Contribution | null = null
      for (const x of entry.counter.contribs) if (x.node === op.nodeId && (c === null || compareVersions(x, c) > 0)) c = x
      if (c === null) return
      op.contribution = { ...c } // a copy: the store changes its own contribution in place
      op.writes.set(key, { wall: c.wall, logical: c.logical, node: c.node, deleted: false })
      return
    }
    const mine = op.kind === 'flushall' ? entry.value === null : op.key === key && (op.kind === 'del' ? entry.value === null : entry.value?.toString('latin1') === op.value)
    if (!mine) return
    if (op.kind === 'set') op.expiresAt = entry.expiresAt
    op.writes.set(key, { wall: entry.wall, logical: entry.logical, node: entry.node, deleted: entry.value === null })
    op.marks.set(key, entry.counter?.seen ?? [])
  }

  /**
   * A local write to a set: the adds and removals the pending op made, member
   * by member (copies: the store's objects change). The op's write, for power
   * losses, is the newest of them (an add's contribution, or the removal stamp).
   */
  private attributeSet (addr: string, key: string, set: HashState, fields: readonly string[]): void {
    const op = this.pending.get(addr)
    if (op === undefined) return
    for (const member of fields) {
      const f = set.fields.get(member)
      if (f === undefined) continue
      if (op.kind === 'sadd') {
        const mine = f.state.contribs.filter(c => c.node === op.nodeId).at(-1)
        if (mine === undefined) continue
        op.setAdds.push({ key, member, add: { ...mine } })
        op.writes.set(key, { wall: mine.wall, logical: mine.logical, node: mine.node, deleted: false })
      } else if (f.removed !== null) {
        op.setRemovals.push({ key, member, seen: f.state.seen.map(c => ({ ...c })) })
        op.writes.set(key, { wall: f.removed.wall, logical: f.removed.logical, node: f.removed.node, deleted: true })
      }
    }
  }

  private client (sim: SimNode): { client: RespClient, incarnation: number, busy: boolean } | null {
    const known = this.clients.get(sim.addr)
    if (known !== undefined && known.incarnation === sim.incarnation) return known
    const node = sim.node
    if (node === null) return null
    const stream = this.world.net.connect(`client>${sim.addr}`, this.owner, sim.addr, { owner: sim.owner, accept: (s, remote) => node.server.handle(s, remote) })
    const fresh = { client: Client.over(stream, () => this.world.sched.now), incarnation: sim.incarnation, busy: false }
    this.clients.set(sim.addr, fresh)
    return fresh
  }
}

/**
 * Whether a lost record is the write `w` itself: its base version, or its
 * writer's contribution at that version; of a set, a member's add at that
 * version or a removal stamped with it.
 */
function holdsExactly (entry: Entry, w: Version): boolean {
  const same = (v: Version): boolean => v.node === w.node && v.wall === w.wall && v.logical === w.logical
  if (entry.hash?.set === true) {
    for (const f of entry.hash.fields.values()) if ((f.removed !== null && same(f.removed)) || f.state.contribs.some(same)) return true
    return false
  }
  if (same(entry)) return true
  return entry.counter?.contribs.some(same) ?? false
}

function show (reply: RespValue): string {
  if (Buffer.isBuffer(reply)) return reply.toString('latin1')
  if (Array.isArray(reply)) return `[${reply.map(show).join(',')}]`
  return String(reply)
}
