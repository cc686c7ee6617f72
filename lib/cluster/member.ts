import { newSyncStats, type SyncStats } from './anti-entropy.js'
import type { PeerLink } from './peer-link.js'

// What a node knows and counts about each other member of its cluster.

/** CONTRACT §Cluster commands: how MEMBERS shows a node. */
export type MemberState = 'up' | 'down' | 'joining' | 'syncing'

export interface Member {
  readonly addr: string
  /** Node id, once the peer has told us. */
  id: string
  readonly link: PeerLink
  /** What the peer says of itself (it may still be syncing). */
  reported: MemberState
  /** Admitted by JOIN and not reached yet. */
  joining: boolean
  writesReceived: number
  bytesReceived: number
  /** SYNCED received after a link-up sync that sent the whole state, or only what differed. */
  fullSyncsReceived: number
  incrementalSyncsReceived: number
  /** It has sent us its whole state (SYNCED) since this node started. */
  sentUsState: boolean
  /**
   * Our link-up sync to it (the whole state or an anti-entropy round, PROTOCOL.md
   * §State transfer): settles when done or when the link fails; null when none runs.
   */
  pushing: Promise<void> | null
  /** The last root digest it reported (PROTOCOL.md §Digests); '' before the first. */
  digest: string
  /** Syncs and anti-entropy rounds this node ran with it. */
  readonly sync: SyncStats
  /** A round (link-up or periodic) runs on its link. */
  rounding: boolean
  /** When the next periodic round is due, ms since the epoch. */
  nextRoundAt: number
  /** The stable timestamp last sent to it, as `wall.logical` ('' none). */
  stableSent: string
  /**
   * Every local write up to this one is known to be held by it (PROTOCOL.md
   * §Tombstones): its link's ackedSeq when ready and synced, else frozen.
   */
  heldSeq: number
  /** When its anti-entropy round last asked us for digests or entries, ms since the epoch. */
  lastAskedAt: number
  /**
   * The first local write resent to it when its link came up: writes from here
   * on reach it by replication, older ones (acknowledged by every other peer
   * before it came back) only by the transfer.
   */
  resentFrom: number
  /** When the last round or link-up sync of ours with it that finished every differing leaf started (0: none). */
  coveredFrom: number
  /** When that round finished (0: none). */
  coveredAt: number
  /** Its link has been ready since this node started. */
  reached: boolean
  /** Since when its link is not ready (or since it was learned, if never), ms since the epoch; 0 while ready. */
  downSince: number
}

/** A member just learned at `now` (ms since the epoch), reached over `link`. */
export function newMember (addr: string, link: PeerLink, now: number): Member {
  return {
    addr,
    id: '',
    link,
    reported: 'up',
    joining: false,
    writesReceived: 0,
    bytesReceived: 0,
    fullSyncsReceived: 0,
    incrementalSyncsReceived: 0,
    sentUsState: false,
    pushing: null,
    resentFrom: 0,
    digest: '',
    sync: newSyncStats(),
    rounding: false,
    nextRoundAt: 0,
    stableSent: '',
    heldSeq: 0,
    lastAskedAt: 0,
    coveredFrom: 0,
    coveredAt: 0,
    reached: false,
    downSince: now
  }
}
