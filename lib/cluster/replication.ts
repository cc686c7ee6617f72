import type { Session } from '../commands/types.js'
import type { Logger } from '../log.js'
import type { Entry } from '../store/entry.js'
import { MreplEncoder } from './entry-codec.js'
import type { Member } from './member.js'
import type { OutgoingBatch, PeerLink } from './peer-link.js'
import type { Cancel, Runtime } from './runtime.js'

// PROTOCOL.md §Replication and §Acknowledgement: local writes numbered in
// order, sent to every ready peer in one MREPL batch per turn of the event
// loop, kept until every ready peer holds them; the barrier a client's write
// reply waits on; WAIT.

/** A batch of local writes sent to the peers, kept until every ready peer has acknowledged it. */
interface SentBatch extends OutgoingBatch {
  readonly firstSeq: number
  /** When it was encoded (runtime ms): its entries are the keys' states then. */
  readonly sentAt: number
}

/** Writes whose acknowledgement waits on the same promises share one (one turn's writes, typically). */
interface SharedBarrier {
  readonly waits: Array<Promise<void>>
  /** The latest write sharing it. */
  seq: number
  all: Promise<void> | null
}

/** A WAIT command waiting for acknowledgements. */
interface AckWaiter {
  readonly session: Session
  readonly wanted: number
  readonly deadline: number
  readonly resolve: (acked: number) => void
}

/** How often waiting WAIT commands look at the acknowledgements, ms. */
const WAIT_POLL_MS = 10

/** What replication needs of the membership (the Cluster hands it these). */
export interface ReplicationHost {
  readonly members: ReadonlyMap<string, Member>
  readonly runtime: Runtime
  readonly log: Logger
  readonly nodeId: () => string
  /** Local write `seq` was just made (convergence samples the clock for T). */
  recorded: (seq: number) => void
  /**
   * How old a batch may be and still be resent to a link that comes up: less
   * than the tombstone grace (PROTOCOL.md §Tombstones), or it could carry a
   * state a peer has collected since (a counter contribution, a value its
   * tombstone beat), and bring it back.
   */
  readonly resendWindowMs: number
}

export class Replication {
  /** Sequence number of the latest local write. */
  seq = 0
  private lastBarrier: SharedBarrier | null = null
  private ackWaiters: AckWaiter[] = []
  private stopAckPolling: Cancel | null = null
  /** Encodes local writes for the peers; `sendQueued` when this turn's are on their way. */
  private outgoing: MreplEncoder | null = null
  private sendQueued = false
  /** The first local write of this turn's batch. */
  private turnFirstSeq = 0
  /** Batches sent and not yet acknowledged by every ready peer, oldest first. */
  private unacknowledged: SentBatch[] = []
  /** Inside `atomically` (nesting depth), and whether that unit has encoded an entry yet. */
  private unitDepth = 0
  private unitStarted = false

  constructor (private readonly host: ReplicationHost) {}

  /**
   * A link just came up: the local writes still waiting for other peers'
   * acknowledgement (and this turn's) go to it at once, so their clients need
   * not wait for more; but not batches older than the resend window, whose
   * states may be older than what the peer has collected since. Returns the
   * first write resent: older ones reach the peer only by the link-up sync,
   * which sends the keys' states as they are now.
   */
  resendTo (link: PeerLink): number {
    const oldest = this.host.runtime.now() - this.host.resendWindowMs
    const recent = this.unacknowledged.filter(batch => batch.sentAt > oldest)
    const from = recent[0]?.firstSeq ?? (this.sendQueued ? this.turnFirstSeq : this.seq + 1)
    for (const batch of recent) link.resend(batch)
    if (this.sendQueued) link.enqueue(this.seq)
    return from
  }

  /** Answers every pending WAIT with the count so far (the node closes). */
  close (): void {
    this.checkAckWaiters(true)
  }

  /** A link's acknowledgements moved on, or it went down: forget batches every ready peer holds. */
  acknowledged (): void {
    let held = Infinity
    for (const member of this.host.members.values()) {
      if (member.link.status === 'ready' && member.link.ackedSeq < held) held = member.link.ackedSeq
    }
    const batches = this.unacknowledged
    let n = 0
    while (n < batches.length && (batches[n] as SentBatch).lastSeq <= held) n++
    if (n > 0) this.unacknowledged = batches.slice(n)
  }

  /**
   * Runs `work`, whose local writes (synchronous, so all in this turn's batch)
   * go in one MREPL command however many they are: a peer applies one command
   * in one step, so no client there sees part of them (PROTOCOL.md §Transactions, G8).
   */
  atomically<T> (work: () => T): T {
    if (this.unitDepth++ === 0) this.unitStarted = false
    try {
      return work()
    } finally {
      this.unitDepth--
    }
  }

  /**
   * A local write: every ready link will carry it. The writes of one turn of
   * the event loop are encoded once, as MREPL, and leave together for every
   * peer (PROTOCOL.md §Replication): many clients' writes share a round trip.
   */
  replicate (key: string, entry: Entry, fields?: readonly string[]): void {
    this.seq++
    this.host.recorded(this.seq)
    let anyReady = false
    for (const member of this.host.members.values()) if (member.link.status === 'ready') anyReady = true
    if (!anyReady) return
    this.outgoing ??= new MreplEncoder(this.host.nodeId())
    // A unit's first entry may start a new command; the rest go in that one.
    const split = this.unitDepth === 0 || !this.unitStarted
    this.outgoing.add(key, entry, split, fields) // first: if it throws, no link counts on a write it will not carry
    if (this.unitDepth > 0) this.unitStarted = true
    for (const member of this.host.members.values()) member.link.enqueue(this.seq)
    if (!this.sendQueued) {
      this.sendQueued = true
      this.turnFirstSeq = this.seq
      this.host.runtime.setImmediate(() => this.sendOutgoing()) // after this turn's reads: many clients share a batch
    }
  }

  private sendOutgoing (): void {
    this.sendQueued = false
    if (this.outgoing === null) return
    try {
      const { bytes, commands, entries } = this.outgoing.finish()
      const batch: SentBatch = { bytes, commands, entries, firstSeq: this.turnFirstSeq, lastSeq: this.seq, sentAt: this.host.runtime.now() }
      this.unacknowledged.push(batch)
      for (const member of this.host.members.values()) member.link.sendQueued(batch)
    } catch (err) {
      // Not sent: fail the links, so nobody waits for them and they resync from scratch.
      this.outgoing = null
      this.host.log.error(`replication batch failed: ${(err as Error).stack ?? String(err)}`)
      for (const member of this.host.members.values()) member.link.drop(`replication batch failed: ${(err as Error).message}`)
    }
  }

  /**
   * Resolves when every ready peer holds every local write so far (G1); null
   * if they do. Writes waiting on the same batches share one promise. When it
   * settles it looks again: a link that became ready meanwhile gets the write
   * by state transfer, and the write is acknowledged once that is done too.
   */
  barrier (): Promise<void> | null {
    if (this.host.members.size === 0) return null // a node alone: every write is acknowledged (and this runs for each)
    const seq = this.seq
    const waits = this.waitsFor(seq)
    if (waits.length === 0) return null
    const last = this.lastBarrier
    if (last !== null && last.waits.length === waits.length && last.waits.every((w, i) => w === waits[i])) {
      last.seq = seq
      return last.all
    }
    const shared: SharedBarrier = { waits, seq, all: null }
    shared.all = Promise.all(waits).then(() => this.settled(shared))
    this.lastBarrier = shared
    return shared.all
  }

  private settled (shared: SharedBarrier): Promise<void> | undefined {
    if (this.lastBarrier === shared) this.lastBarrier = null
    const waits = this.waitsFor(shared.seq)
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => this.settled(shared))
  }

  /** What local write `seq` still waits for: replication batches, and transfers that carry it. */
  private waitsFor (seq: number): Array<Promise<void>> {
    const waits: Array<Promise<void>> = []
    for (const member of this.host.members.values()) {
      if (member.link.status !== 'ready') continue
      if (member.pushing !== null && seq < member.resentFrom) waits.push(member.pushing)
      const w = member.link.barrier(seq)
      if (w !== null) waits.push(w)
    }
    return waits
  }

  /** Peers that hold every local write so far (WAIT). */
  acknowledgedBy (): number {
    let n = 0
    for (const member of this.host.members.values()) {
      if (member.link.status === 'ready' && member.pushing === null && member.link.ackedSeq >= this.seq) n++
    }
    return n
  }

  /**
   * WAIT: resolves with the number of peers holding every local write so far,
   * once it reaches `wanted` or at `timeoutMs` (0: no limit), or when the node
   * closes or the client goes away or stops sending.
   */
  waitForAcks (session: Session, wanted: number, timeoutMs: number): Promise<number> {
    const now = this.acknowledgedBy()
    if (now >= wanted) return Promise.resolve(now)
    return new Promise(resolve => {
      this.ackWaiters.push({ session, wanted, deadline: timeoutMs === 0 ? Infinity : this.host.runtime.now() + timeoutMs, resolve })
      this.stopAckPolling ??= this.host.runtime.setInterval(() => this.checkAckWaiters(false), WAIT_POLL_MS)
    })
  }

  private checkAckWaiters (all: boolean): void {
    const acked = this.acknowledgedBy()
    const now = this.host.runtime.now()
    this.ackWaiters = this.ackWaiters.filter(w => {
      if (!all && !w.session.closed && !w.session.inputEnded && acked < w.wanted && now < w.deadline) return true
      w.resolve(acked)
      return false
    })
    if (this.ackWaiters.length === 0 && this.stopAckPolling !== null) {
      this.stopAckPolling()
      this.stopAckPolling = null
    }
  }
}
