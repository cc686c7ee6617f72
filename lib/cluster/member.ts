import type { PeerLink } from './peer-link.js'

// What a node knows and counts about each other member of its cluster:
// membership and replication. Convergence keeps its own per-member state
// (peer-rounds.ts).

/** PROTOCOL.md §MEMBERS: how a node is shown. */
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
  /**
   * The first local write resent to it when its link came up: writes from here
   * on reach it by replication, older ones (acknowledged by every other peer
   * before it came back) only by the transfer.
   */
  resentFrom: number
  /** Its link has been ready since this node started. */
  reached: boolean
  /** Since when its link is not ready (or since it was learned, if never), ms since the epoch; 0 while ready. */
  downSince: number
  /**
   * Other node ids that peers' GOSSIP gives for this address, not heard from
   * the address itself yet (a node started there afresh, under a new id):
   * retiring `id` then keeps the address as that node's (PROTOCOL.md §Member removal).
   */
  readonly reportedIds: Set<string>
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
    reached: false,
    downSince: now,
    reportedIds: new Set()
  }
}
