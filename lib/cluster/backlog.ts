import type { Store } from '../store/store.js'
import type { Member } from './member.js'

// PROTOCOL.md §Tombstones, the backlog: how many tombstones wait, how old the
// oldest is, and who holds their collection back, so an operator reading INFO
// knows whom to FORGET.

export interface Backlog {
  /** Tombstones held, not yet collected. */
  readonly tombstones: number
  /** Age of the oldest queued tombstone by its wall clock, ms (0: none). */
  readonly oldestAgeMs: number
  /** The member (address) or writer (`node <id>`) that holds collection back; `none`; `grace` once only the grace is left. */
  readonly heldBackBy: string
}

/** What the backlog is read from (the Cluster is one). */
export interface BacklogSource {
  readonly store: Store
  readonly nodeId: string
  /** The latest local write's sequence number. */
  readonly seq: number
  readonly members: ReadonlyMap<string, Member>
}

/** `heldSeq(m)`: every local write up to it is held by member m (PROTOCOL.md §Tombstones). */
export function tombstoneBacklog (cluster: BacklogSource, heldSeq: (m: Member) => number): Backlog {
  const store = cluster.store
  const oldest = store.tombstoneLog.oldest()
  if (oldest === null || store.tombstones === 0) return { tombstones: store.tombstones, oldestAgeMs: 0, heldBackBy: 'none' }
  const oldestAgeMs = Math.max(0, store.now() - oldest.wall)
  return { tombstones: store.tombstones, oldestAgeMs, heldBackBy: holder(cluster, oldest.node, heldSeq) }
}

function holder (cluster: BacklogSource, writer: string, heldSeq: (m: Member) => number): string {
  // A member that is not reached acknowledges nothing: it holds back every writer's tombstones.
  let down: { addr: string, since: number } | null = null
  for (const m of cluster.members.values()) {
    if (m.link.status !== 'ready' && (down === null || m.downSince < down.since)) down = { addr: m.addr, since: m.downSince }
  }
  if (down !== null) return down.addr
  if (writer === cluster.nodeId) {
    let lowest: { addr: string, seq: number } | null = null
    for (const m of cluster.members.values()) {
      const held = heldSeq(m)
      if (held < cluster.seq && (lowest === null || held < lowest.seq)) lowest = { addr: m.addr, seq: held }
    }
    return lowest?.addr ?? 'grace'
  }
  for (const m of cluster.members.values()) if (m.id === writer) return m.addr
  return `node ${writer}`
}
