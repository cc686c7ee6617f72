import type { Cluster } from './cluster.js'

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

export function tombstoneBacklog (cluster: Cluster): Backlog {
  const store = cluster.store
  const oldest = store.tombstoneLog.oldest()
  if (oldest === null || store.tombstones === 0) return { tombstones: store.tombstones, oldestAgeMs: 0, heldBackBy: 'none' }
  const oldestAgeMs = Math.max(0, store.now() - oldest.wall)
  return { tombstones: store.tombstones, oldestAgeMs, heldBackBy: holder(cluster, oldest.node) }
}

function holder (cluster: Cluster, writer: string): string {
  // A member that is not reached acknowledges nothing: it holds back every writer's tombstones.
  let down: { addr: string, since: number } | null = null
  for (const m of cluster.members.values()) {
    if (m.link.status !== 'ready' && (down === null || m.downSince < down.since)) down = { addr: m.addr, since: m.downSince }
  }
  if (down !== null) return down.addr
  if (writer === cluster.nodeId) {
    let lowest: { addr: string, seq: number } | null = null
    for (const m of cluster.members.values()) {
      if (m.heldSeq < cluster.seq && (lowest === null || m.heldSeq < lowest.seq)) lowest = { addr: m.addr, seq: m.heldSeq }
    }
    return lowest?.addr ?? 'grace'
  }
  for (const m of cluster.members.values()) if (m.id === writer) return m.addr
  return `node ${writer}`
}
