import { bulkArray, type Encoded } from '../protocol/reply.js'
import { tombstoneBacklog } from './backlog.js'
import type { Cluster } from './cluster.js'
import type { Member } from './member.js'
import type { PeerRounds } from './peer-rounds.js'

// PROTOCOL.md §MEMBERS, and the replication section of §INFO.

/**
 * MEMBERS: `<address> <state> [self] id=<node id> [hb=<ms since heartbeat>] digest=<root>`,
 * this node first; a peer's digest is the last root it reported (`?` before the first).
 */
export function membersReply (cluster: Cluster): Encoded {
  const now = cluster.runtime.now()
  const lines = [`${cluster.advertise} ${cluster.selfState} self id=${cluster.nodeId} digest=${cluster.store.digest.rootHex()}`]
  for (const m of cluster.members.values()) {
    const hb = m.link.lastHeartbeatAt === 0 ? '' : ` hb=${now - m.link.lastHeartbeatAt}`
    lines.push(`${m.addr} ${cluster.state(m)} id=${m.id === '' ? '?' : m.id}${hb} digest=${peerOf(cluster, m).digest === '' ? '?' : peerOf(cluster, m).digest}`)
  }
  return bulkArray(lines)
}

/** The INFO `replication` section. */
export function replicationInfo (cluster: Cluster): string {
  const now = cluster.runtime.now()
  const lines = [
    '# Replication',
    'role:master',
    `node_id:${cluster.nodeId}`,
    `advertised_address:${cluster.advertise}`,
    `node_state:${cluster.selfState}`,
    `connected_peers:${[...cluster.members.values()].filter(m => m.link.status === 'ready').length}`,
    `known_members:${cluster.members.size}`,
    `write_seq:${cluster.seq}`,
    `digest:${cluster.store.digest.rootHex()}`,
    `full_syncs_served:${cluster.fullSyncsServed}`
  ]
  // PROTOCOL.md §Anti-entropy: totals over every member, then each member's own.
  const total = { full: 0, incremental: 0, rounds: 0, keysSent: 0, bytesSent: 0, keysReceived: 0, bytesReceived: 0, fullIn: 0, incrementalIn: 0 }
  for (const m of cluster.members.values()) {
    total.full += peerOf(cluster, m).sync.fullSyncs
    total.incremental += peerOf(cluster, m).sync.incrementalSyncs
    total.rounds += peerOf(cluster, m).sync.rounds
    total.keysSent += peerOf(cluster, m).sync.keysSent
    total.bytesSent += peerOf(cluster, m).sync.bytesSent
    total.keysReceived += peerOf(cluster, m).sync.keysReceived
    total.bytesReceived += peerOf(cluster, m).sync.bytesReceived
    total.fullIn += m.fullSyncsReceived
    total.incrementalIn += m.incrementalSyncsReceived
  }
  const store = cluster.store
  lines.push(
    `full_syncs_sent:${total.full}`,
    `full_syncs_received:${total.fullIn}`,
    `incremental_syncs:${total.incremental}`,
    `incremental_syncs_received:${total.incrementalIn}`,
    `anti_entropy_rounds:${total.rounds}`,
    `sync_keys_sent:${total.keysSent}`,
    `sync_bytes_sent:${total.bytesSent}`,
    `sync_keys_received:${total.keysReceived}`,
    `sync_bytes_received:${total.bytesReceived}`,
    `tombstones:${store.tombstones}`,
    `tombstones_queued:${store.tombstoneLog.queued}`,
    `tombstones_collected:${store.stats.tombstonesCollected}`,
    ...backlogLines(cluster),
    `removed_members:${cluster.retired.size}`,
    `removed_from_cluster:${cluster.removedReason === null ? 'no' : 'yes'}`
  )
  let i = 0
  for (const m of cluster.members.values()) {
    const l = m.link
    const hb = l.lastHeartbeatAt === 0 ? -1 : now - l.lastHeartbeatAt
    lines.push(`member${i++}:addr=${m.addr},id=${m.id === '' ? '?' : m.id},state=${cluster.state(m)},link=${l.status},` +
      `last_heartbeat_ms=${hb},writes_sent=${l.stats.writesSent},bytes_sent=${l.stats.bytesSent},` +
      `writes_received=${m.writesReceived},bytes_received=${m.bytesReceived},pending_acks=${l.pendingAcks},` +
      `acked_seq=${l.ackedSeq},full_syncs_sent=${l.stats.fullSyncsSent},full_syncs_received=${m.fullSyncsReceived},` +
      `incremental_syncs=${peerOf(cluster, m).sync.incrementalSyncs},incremental_syncs_received=${m.incrementalSyncsReceived},` +
      `anti_entropy_rounds=${peerOf(cluster, m).sync.rounds},sync_keys_sent=${peerOf(cluster, m).sync.keysSent},sync_bytes_sent=${peerOf(cluster, m).sync.bytesSent},` +
      `sync_keys_received=${peerOf(cluster, m).sync.keysReceived},sync_bytes_received=${peerOf(cluster, m).sync.bytesReceived},digest=${peerOf(cluster, m).digest === '' ? '?' : peerOf(cluster, m).digest}`)
  }
  return lines.join('\r\n') + '\r\n'
}

/** PROTOCOL.md §Tombstones, the backlog. */
function backlogLines (cluster: Cluster): string[] {
  const b = tombstoneBacklog(cluster, m => cluster.convergence.known(m)?.heldSeq ?? 0)
  return [`tombstone_backlog:${b.tombstones}`, `tombstone_backlog_oldest_ms:${b.oldestAgeMs}`, `tombstone_backlog_held_by:${b.heldBackBy}`]
}

function peerOf (cluster: Cluster, m: Member): PeerRounds {
  return cluster.convergence.peer(m)
}
