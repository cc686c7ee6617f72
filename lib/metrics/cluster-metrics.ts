import type { Registry } from 'prom-client'
import { tombstoneBacklog, type Backlog } from '../cluster/backlog.js'
import type { Cluster, Member, MemberState } from '../cluster/cluster.js'
import type { LinkStatus } from '../cluster/peer-link.js'
import type { PeerRounds } from '../cluster/peer-rounds.js'
import { counterOf, countersOf, gaugeOf, gaugesOf, type Series } from './collect.js'

// keystone_* metrics: the cluster as INFO replication and MEMBERS show it
// (PROTOCOL.md §INFO, §MEMBERS, §Anti-entropy, §Tombstones), read at scrape
// time. Per-peer series are labelled by the peer's advertised address; a
// member removed (FORGET) leaves the next scrape.

const MEMBER_STATES: readonly MemberState[] = ['up', 'down', 'joining', 'syncing']
const LINK_STATES: readonly LinkStatus[] = ['connecting', 'ready', 'down']

export function registerClusterMetrics (registry: Registry, cluster: Cluster): void {
  // known(), not peer(): a scrape reads, it creates no entry (an absent one reads as zeros).
  const peers = (): Array<[Member, PeerRounds | undefined]> => [...cluster.members.values()].map(m => [m, cluster.convergence.known(m)])
  const perPeer = (value: (m: Member, p: PeerRounds | undefined) => number): Series<'peer'> => peers().map(([m, p]) => [{ peer: m.addr }, value(m, p)])

  gaugesOf(registry, 'keystone_cluster_members', 'Members of the cluster by state as this node sees them, itself included', ['state'], () => {
    const counts = new Map<MemberState, number>(MEMBER_STATES.map(s => [s, 0]))
    counts.set(cluster.selfState, (counts.get(cluster.selfState) ?? 0) + 1)
    for (const m of cluster.members.values()) counts.set(cluster.state(m), (counts.get(cluster.state(m)) ?? 0) + 1)
    return [...counts].map(([state, n]) => [{ state }, n])
  })
  // Prometheus's pattern for an enum: one series per state, 1 for the current one.
  gaugesOf(registry, 'keystone_peer_link_state', 'Link to each peer: 1 for its current status (connecting, ready, down), 0 for the others', ['peer', 'state'], () =>
    peers().flatMap(([m]) => LINK_STATES.map(state => [{ peer: m.addr, state }, m.link.status === state ? 1 : 0] as [Record<'peer' | 'state', string>, number])))
  gaugesOf(registry, 'keystone_peer_pending_acks', 'Local writes sent to each peer and not yet acknowledged', ['peer'], () => perPeer(m => m.link.pendingAcks))
  gaugesOf(registry, 'keystone_peer_digest_equal', 'Whether the root digest each peer last reported equals ours (1) or not, or none yet (0)', ['peer'], () => {
    const ours = cluster.store.digest.rootHex()
    return perPeer((_, p) => p !== undefined && p.digest === ours ? 1 : 0)
  })
  countersOf(registry, 'keystone_anti_entropy_rounds_total', 'Anti-entropy rounds this node ran with each peer, differences or not', ['peer'], () => perPeer((_, p) => p?.sync.rounds ?? 0))
  countersOf(registry, 'keystone_incremental_syncs_total', 'Link-up syncs and rounds with each peer that found and sent differences', ['peer'], () => perPeer((_, p) => p?.sync.incrementalSyncs ?? 0))
  countersOf(registry, 'keystone_full_syncs_total', 'Whole-state transfers this node sent to each peer', ['peer'], () => perPeer((_, p) => p?.sync.fullSyncs ?? 0))
  countersOf(registry, 'keystone_sync_bytes_sent_total', 'Bytes of entries this node sent to each peer by syncs and rounds', ['peer'], () => perPeer((_, p) => p?.sync.bytesSent ?? 0))
  countersOf(registry, 'keystone_sync_bytes_received_total', 'Bytes of entries this node received from each peer by its syncs and rounds', ['peer'], () => perPeer((_, p) => p?.sync.bytesReceived ?? 0))
  counterOf(registry, 'keystone_tombstones_collected_total', 'Tombstones collected once every member held them', () => cluster.store.stats.tombstonesCollected)
  // Per writer one heap peek and a pass over the members: cheap enough to do once per metric.
  const backlog = (): Backlog => tombstoneBacklog(cluster, m => cluster.convergence.known(m)?.heldSeq ?? 0)
  gaugeOf(registry, 'keystone_tombstone_backlog', 'Tombstones waiting for collection', () => backlog().tombstones)
  gaugeOf(registry, 'keystone_tombstone_backlog_oldest_seconds', 'Age of the oldest tombstone waiting for collection (0: none)', () => backlog().oldestAgeMs / 1000)
  gaugesOf(registry, 'keystone_tombstone_backlog_held_by', 'Always 1; `holder` names who holds collection back: a member\'s address, `node <id>`, `grace` or `none`', ['holder'], () =>
    [[{ holder: backlog().heldBackBy }, 1]])
}
