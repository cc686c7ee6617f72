import { newSyncStats, type SyncPeer, type SyncStats } from './anti-entropy.js'
import type { PeerLink } from './peer-link.js'

// What convergence keeps about one member (DESIGN.md §Who owns which state):
// its rounds, what it has acknowledged durably, what it was told. Owned by
// Convergence alone; the Member record keeps membership and replication.

/** An acknowledgement not yet old enough to count: when seen, up to which local write. */
export interface AckSample { at: number, seq: number }

export class PeerRounds implements SyncPeer {
  /** The last root digest it reported (PROTOCOL.md §Digests); '' before the first. */
  digest = ''
  /** Syncs and anti-entropy rounds this node ran with it. */
  readonly sync: SyncStats = newSyncStats()
  /** A round (link-up or periodic) runs on its link. */
  rounding = false
  /** When the next periodic round is due, ms since the epoch. */
  nextRoundAt = 0
  /** The stable timestamp last sent to it, as `wall.logical` ('' none). */
  stableSent = ''
  /** Every local write up to this one is held by it durably (PROTOCOL.md §Tombstones). */
  heldSeq = 0
  /** Acknowledgements waiting to be durable, oldest first. */
  ackSamples: AckSample[] = []
  /** When its anti-entropy round last asked us for digests or entries, ms since the epoch. */
  lastAskedAt = 0
  /** When the last round or link-up sync of ours with it that finished every differing leaf started (0: none). */
  coveredFrom = 0
  /** When that round finished (0: none). */
  coveredAt = 0

  constructor (readonly addr: string, readonly link: PeerLink) {}
}
