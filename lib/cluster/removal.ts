// PROTOCOL.md §Member removal: the node ids removed from the cluster for good,
// and the automatic removal of a member down too long (--member-timeout).

import type { Logger } from '../log.js'
import { command } from '../protocol/reply.js'
import type { Member } from './member.js'
import type { Runtime } from './runtime.js'

/**
 * Retired node ids, each with the address it last had. An id, once retired,
 * never takes part again on any peer path. Its address is not learned again
 * from other nodes' member lists (one that has not heard of the removal yet
 * would hand it back); a node speaking for itself from that address under a
 * new id (one started with an empty data directory) frees it.
 */
export class RetiredIds {
  private readonly ids: Map<string, string>
  private readonly addrs = new Set<string>()
  /** Told the whole list when it grows (the data directory keeps it). */
  onChanged: ((ids: ReadonlyMap<string, string>) => void) | null = null

  constructor (initial: ReadonlyMap<string, string> = new Map()) {
    this.ids = new Map(initial)
    for (const addr of initial.values()) if (addr !== '') this.addrs.add(addr)
  }

  has (id: string): boolean {
    return this.ids.has(id)
  }

  /** Retires `id`; false if it already was. */
  add (id: string, addr: string): boolean {
    if (this.ids.has(id)) return false
    this.ids.set(id, addr)
    if (addr !== '') this.addrs.add(addr)
    this.onChanged?.(this.ids)
    return true
  }

  /** Whether `addr` was a removed node's, and no live node has spoken from it since. */
  addressRetired (addr: string): boolean {
    return this.addrs.has(addr)
  }

  /** A node that is not retired speaks from `addr`: it may be learned again. */
  reuse (addr: string): void {
    this.addrs.delete(addr)
  }

  get size (): number {
    return this.ids.size
  }

  keys (): IterableIterator<string> {
    return this.ids.keys()
  }
}

/** What the timeout needs to know of a member. */
export interface TimedMember {
  readonly addr: string
  readonly id: string
  /** When it was last seen going down (or was learned, if never reached), ms; 0 while its link is ready. */
  readonly downSince: number
  readonly ready: boolean
}

/** What automatic removal decided this time. */
export interface TimeoutVerdict {
  /** Members down past the timeout, to remove now. */
  readonly remove: TimedMember[]
  /** Members down past the timeout kept, because this node does not reach a majority. */
  readonly kept: TimedMember[]
}

/**
 * PROTOCOL.md §Member removal, --member-timeout: a member down longer than
 * `timeoutMs` is removed, but only by a node that reaches a strict majority of
 * the members (itself included). Of the two sides of a partition at most one
 * holds a majority, so they never remove each other: the majority side removes
 * the minority, whose nodes learn it when the partition heals. (With two
 * members neither side ever has a majority: remove a dead one with FORGET.)
 */
export function timedOut (members: readonly TimedMember[], timeoutMs: number, now: number): TimeoutVerdict {
  if (timeoutMs <= 0) return { remove: [], kept: [] }
  const late = members.filter(m => !m.ready && m.downSince > 0 && now - m.downSince >= timeoutMs)
  if (late.length === 0) return { remove: [], kept: [] }
  const reached = 1 + members.filter(m => m.ready).length
  const majority = reached * 2 > members.length + 1
  return majority ? { remove: late, kept: [] } : { remove: [], kept: late }
}

/** What automatic removal needs of the membership (the Cluster is one). */
export interface TimeoutHost {
  readonly members: ReadonlyMap<string, Member>
  readonly log: Logger
  readonly runtime: Runtime
  /** Removes node `id` (at `addr`) for good, as FORGET does. */
  retire: (id: string, addr: string, why: string) => void
  /** Drops a member whose id is not known (it cannot be retired). */
  dropMember: (member: Member) => void
}

/**
 * --member-timeout: members down past the timeout are removed, by a node that
 * reaches a strict majority, once a strict majority (itself and the peers it
 * asks with MEMBERS) see them down. Where some nodes reach both sides of a cut
 * (a partition that is not clean), those keep either side from removing the
 * other: they still see it up.
 */
export class MemberTimeout {
  private checking = false
  /** Members past the timeout this node could not remove: warned once each. */
  private readonly kept = new Set<string>()

  constructor (private readonly host: TimeoutHost, private readonly timeoutMs: number) {}

  check (): void {
    if (this.checking) return
    const host = this.host
    const members = [...host.members.values()].map(m => ({ addr: m.addr, id: m.id, downSince: m.downSince, ready: m.link.status === 'ready' }))
    const verdict = timedOut(members, this.timeoutMs, host.runtime.now())
    for (const m of verdict.kept) this.keep(m.addr, 'this node reaches no majority of the members')
    if (verdict.remove.length === 0) {
      if (verdict.kept.length === 0) this.kept.clear()
      return
    }
    this.checking = true
    this.confirm(verdict.remove).catch(err => host.log.error(`member timeout check failed: ${(err as Error).message}`)).finally(() => { this.checking = false })
  }

  /** Asks every ready peer how it sees the candidates; removes those a strict majority see down. */
  private async confirm (candidates: readonly TimedMember[]): Promise<void> {
    const host = this.host
    const ready = [...host.members.values()].filter(m => m.link.status === 'ready')
    const views = await Promise.all(ready.map(m => m.link.request(command(['MEMBERS'])).then(r => r, () => null)))
    const seconds = this.timeoutMs / 1000
    for (const c of candidates) {
      const member = host.members.get(c.addr)
      // Gone already, back, spoke to us meanwhile, or a new node at the address: not this time.
      if (member === undefined || member.link.status === 'ready' || member.id !== c.id || member.downSince !== c.downSince) continue
      let agree = 1 // this node
      for (const view of views) {
        if (!Array.isArray(view)) continue
        const line = view.find(v => Buffer.isBuffer(v) && v.toString('latin1').startsWith(`${c.addr} `))
        // A peer that no longer lists it has removed it already.
        if (line === undefined || (line as Buffer).toString('latin1').startsWith(`${c.addr} down`)) agree++
      }
      if (agree * 2 <= host.members.size + 1) {
        this.keep(c.addr, `only ${agree} of the ${host.members.size + 1} members see it down`)
        continue
      }
      if (c.id === '') {
        host.log.warn(`member ${c.addr} is down past --member-timeout ${seconds}, but its node id is not known here: FORGET it by id`)
        host.dropMember(member)
      } else {
        host.retire(c.id, c.addr, `down for more than --member-timeout ${seconds} s`)
      }
    }
  }

  private keep (addr: string, why: string): void {
    if (this.kept.has(addr)) return
    this.kept.add(addr)
    this.host.log.warn(`member ${addr} is down past --member-timeout ${this.timeoutMs / 1000}, but ${why}: not removing it`)
  }
}
