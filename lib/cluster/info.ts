import { bulkArray, type Encoded } from '../protocol/reply.js'
import type { Cluster } from './cluster.js'

// PROTOCOL.md §MEMBERS, and the replication section of §INFO.

/** MEMBERS: `<address> <state> [self] id=<node id> [hb=<ms since heartbeat>]`, this node first. */
export function membersReply (cluster: Cluster): Encoded {
  const now = Date.now()
  const lines = [`${cluster.advertise} ${cluster.selfState} self id=${cluster.nodeId}`]
  for (const m of cluster.members.values()) {
    const hb = m.link.lastHeartbeatAt === 0 ? '' : ` hb=${now - m.link.lastHeartbeatAt}`
    lines.push(`${m.addr} ${cluster.state(m)} id=${m.id === '' ? '?' : m.id}${hb}`)
  }
  return bulkArray(lines)
}

/** The INFO `replication` section. */
export function replicationInfo (cluster: Cluster): string {
  const now = Date.now()
  const lines = [
    '# Replication',
    'role:master',
    `node_id:${cluster.nodeId}`,
    `advertised_address:${cluster.advertise}`,
    `node_state:${cluster.selfState}`,
    `connected_peers:${[...cluster.members.values()].filter(m => m.link.status === 'ready').length}`,
    `known_members:${cluster.members.size}`,
    `write_seq:${cluster.seq}`,
    `full_syncs_served:${cluster.fullSyncsServed}`
  ]
  let i = 0
  for (const m of cluster.members.values()) {
    const l = m.link
    const hb = l.lastHeartbeatAt === 0 ? -1 : now - l.lastHeartbeatAt
    lines.push(`member${i++}:addr=${m.addr},id=${m.id === '' ? '?' : m.id},state=${cluster.state(m)},link=${l.status},` +
      `last_heartbeat_ms=${hb},writes_sent=${l.stats.writesSent},bytes_sent=${l.stats.bytesSent},` +
      `writes_received=${m.writesReceived},bytes_received=${m.bytesReceived},pending_acks=${l.pendingAcks},` +
      `acked_seq=${l.ackedSeq},full_syncs_sent=${l.stats.fullSyncsSent},full_syncs_received=${m.fullSyncsReceived}`)
  }
  return lines.join('\r\n') + '\r\n'
}
