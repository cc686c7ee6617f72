// PROTOCOL.md §Member removal: the node ids removed from the cluster for good,
// and the automatic removal of a member down too long (--member-timeout).

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

  /** The last address of a retired id ('' if unknown). */
  addressOf (id: string): string | undefined {
    return this.ids.get(id)
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
