import type { Logger } from '../log.js'
import { parseAddress } from '../options.js'
import type { Encoded } from '../protocol/reply.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { TlsVerifyError, type Cancel, type DialTls, type PeerClient, type Runtime } from './runtime.js'

/** connecting: dialling or handshaking; ready: replicating; down: waiting to redial. */
export type LinkStatus = 'connecting' | 'ready' | 'down'

/** Timing of heartbeats and failure detection (PROTOCOL.md §Failure detection). */
export interface LinkTiming {
  /** A heartbeat goes out this often, ms. */
  heartbeatMs: number
  /** A peer that keeps a request waiting this long without any reply is down, ms. */
  failAfterMs: number
  /** Connecting plus the AUTH/GOSSIP handshake must take no longer than this, ms. */
  handshakeMs: number
  /** Redial delays grow from this, ms... */
  retryMinMs: number
  /** ...to at most this (with jitter below it), ms. */
  retryMaxMs: number
}

// Down within 2 s (PROTOCOL.md §Failure detection): a heartbeat leaves at most 200 ms after the peer's
// last reply, a request unanswered for 1000 ms fails the link, and the check
// runs with every heartbeat, so a peer is down at most 200 + 1000 + 200 ms after
// its last reply. Redials start at least once a second:
// a handshake gives up after 500 ms and the next attempt follows within 500 ms.
export const DEFAULT_TIMING: LinkTiming = { heartbeatMs: 200, failAfterMs: 1000, handshakeMs: 500, retryMinMs: 100, retryMaxMs: 500 }

/** What a link needs from the cluster that owns it. */
export interface LinkOwner {
  readonly log: Logger
  /** Time, timers and dialling. */
  readonly runtime: Runtime
  readonly timing: LinkTiming
  readonly password: string
  /** TLS for the links dialled from now on (PROTOCOL.md §TLS); undefined: plain TCP. */
  readonly tls: DialTls
  /** Local address to dial from (--host when it is a specific IP). */
  readonly localAddress: string | undefined
  /** The GOSSIP request this node sends as handshake and heartbeat. */
  gossipRequest: () => Encoded
  /** A GOSSIP reply arrived on the link. */
  gossipReply: (link: PeerLink, reply: RespValue) => void
  ready: (link: PeerLink) => void
  /** The link failed; `report` is false for a repeated failure to reconnect (not logged again). */
  down: (link: PeerLink, reason: string, report: boolean) => void
  /** The peer acknowledged more local writes. */
  acknowledged: () => void
  /**
   * The peer refused our GOSSIP for good (PROTOCOL.md §Member removal): true if
   * the owner handled it, and the link is then not redialled.
   */
  refused: (link: PeerLink, message: string) => boolean
}

/** Local writes encoded as MREPL commands, ready to go to any number of links. */
export interface OutgoingBatch {
  readonly bytes: Buffer
  readonly commands: number
  readonly entries: number
  readonly lastSeq: number
}

export interface LinkStats {
  writesSent: number
  bytesSent: number
  fullSyncsSent: number
}

/** Local writes sent together, and the promise that they have all been answered. */
class Batch {
  /** The last local write in the batch. */
  lastSeq = 0
  private settled = false
  private resolve: (() => void) | null = null
  private promise: Promise<void> | null = null

  done (): Promise<void> {
    if (this.settled) return Promise.resolve()
    this.promise ??= new Promise(resolve => { this.resolve = resolve })
    return this.promise
  }

  release (): void {
    this.settled = true
    this.resolve?.()
  }
}

/**
 * A persistent outbound connection to one peer (STYLE: a reconnecting socket
 * with an explicit status and capped backoff with jitter). Replicated writes
 * go out pipelined; each carries a sequence number so that a client's write can
 * wait until this peer has acknowledged it.
 */
export class PeerLink {
  status: LinkStatus = 'down'
  readonly stats: LinkStats = { writesSent: 0, bytesSent: 0, fullSyncsSent: 0 }
  /** When the peer last answered a heartbeat (ms since epoch; 0 never). */
  lastHeartbeatAt = 0
  /**
   * When the newest request the peer has answered on this connection was sent
   * (the handshake or a heartbeat; ms since epoch, 0 none): the peer was up,
   * on this connection, at some time after it. Unlike the time a reply is
   * read, a late turn of this node's event loop (a pause, a stall) cannot move
   * it past the peer's end (PROTOCOL.md §Tombstones, durable acknowledgements).
   */
  answeredSentAt = 0
  /** Highest sequence number of a local write this peer has acknowledged. */
  ackedSeq = 0
  /** Highest sequence number of a local write sent to this peer. */
  private sentSeq = 0
  private client: PeerClient | null = null
  /** Writes queued this turn of the event loop. */
  private filling: Batch | null = null
  /** Batches sent and not yet answered, oldest first. */
  private inflight: Batch[] = []
  private stopHeartbeats: Cancel | null = null
  private cancelRetry: Cancel | null = null
  private attempts = 0
  /** Why the link last failed, to tell a new lasting cause from a repeated one. */
  private lastFailure = ''
  private gossipInFlight = false
  private closed = false
  private readonly host: string
  private readonly port: number

  constructor (readonly addr: string, private readonly owner: LinkOwner) {
    const { host, port } = parseAddress(addr)
    this.host = host
    this.port = port
  }

  start (): void {
    if (this.closed || this.status !== 'down' || this.cancelRetry !== null) return
    this.connect().catch(err => {
      if (this.status !== 'down') this.fail(`connect: ${(err as Error).message}`, err instanceof TlsVerifyError) // not when the handshake timer already failed it
    })
  }

  /**
   * Local write number `seq` will go out with this turn's batch; false if the
   * link is not ready (nobody then waits for this peer).
   */
  enqueue (seq: number): boolean {
    if (this.status !== 'ready' || this.client === null) return false
    this.filling ??= new Batch()
    this.filling.lastSeq = seq
    return true
  }

  /** Sends this turn's batch, if this link is to carry it (PROTOCOL.md §Replication). */
  sendQueued (outgoing: OutgoingBatch): void {
    const batch = this.filling
    this.filling = null
    if (batch === null) return
    this.send(batch, outgoing)
  }

  /** Sends a batch this link was not ready for when it left (it just came up). */
  resend (outgoing: OutgoingBatch): void {
    const batch = new Batch()
    batch.lastSeq = outgoing.lastSeq
    this.send(batch, outgoing)
  }

  private send (batch: Batch, outgoing: OutgoingBatch): void {
    const client = this.client
    if (this.status !== 'ready' || client === null) {
      batch.release()
      return
    }
    this.stats.writesSent += outgoing.entries
    this.stats.bytesSent += outgoing.bytes.length
    if (batch.lastSeq > this.sentSeq) this.sentSeq = batch.lastSeq
    this.inflight.push(batch)
    client.sendMany(outgoing.bytes, outgoing.commands).then(replies => {
      const refused = replies.find(r => r instanceof RespError)
      // A peer that refuses a write does not hold it: it cannot count as acknowledged.
      if (refused !== undefined) this.fail(`it refused a write: ${String(refused)}`)
      else this.acknowledge(batch.lastSeq)
    }, () => { /* the link failed: fail() releases the batches */ })
  }

  /** Sends any request on the link; resolves with its reply. */
  request (request: Encoded): Promise<RespValue> {
    return this.requestMany(request, 1).then(replies => replies[0] as RespValue)
  }

  /** Sends `count` requests encoded in `bytes`; resolves with their replies. */
  requestMany (bytes: Encoded, count: number): Promise<RespValue[]> {
    const client = this.client
    if (this.status === 'down' || client === null) return Promise.reject(new Error(`peer ${this.addr} is down`))
    this.stats.bytesSent += bytes.length
    return client.sendMany(bytes, count)
  }

  /**
   * Resolves once the peer has acknowledged write `seq`, or goes down; null if
   * it has, or if the write never went to it. Writes of one batch share a promise.
   */
  barrier (seq: number): Promise<void> | null {
    if (this.status !== 'ready' || this.ackedSeq >= seq) return null
    const newest = this.inflight[this.inflight.length - 1]
    if (newest === undefined || newest.lastSeq < seq) {
      // The common case, a write made this turn: it is in the batch being filled.
      return this.filling !== null && this.filling.lastSeq >= seq ? this.filling.done() : null
    }
    for (const batch of this.inflight) if (batch.lastSeq >= seq) return batch.done()
    return null
  }

  /** Whether the link is still on its first attempt to connect (never failed). */
  get firstAttempt (): boolean {
    return this.status === 'connecting' && this.attempts === 0
  }

  /** Local writes sent and not yet acknowledged (INFO). */
  get pendingAcks (): number {
    return this.status === 'ready' ? Math.max(0, this.sentSeq - this.ackedSeq) : 0
  }

  close (): void {
    this.closed = true
    this.cancelRetry?.()
    this.cancelRetry = null
    this.stopHeartbeat()
    this.client?.close()
    this.client = null
    this.status = 'down'
    this.releaseWaiters()
  }

  private async connect (): Promise<void> {
    this.status = 'connecting'
    const runtime = this.owner.runtime
    const started = runtime.now()
    const client = await runtime.dial({
      host: this.host,
      port: this.port,
      localAddress: this.owner.localAddress,
      connectTimeoutMs: this.owner.timing.handshakeMs,
      now: runtime.now,
      tls: this.owner.tls
    })
    if (this.closed) {
      client.close()
      return
    }
    this.client = client
    this.answeredSentAt = 0
    client.onClose = err => this.fail(err.message)
    this.startHeartbeat()
    // A paused peer accepts connections (its kernel does) but never answers.
    const cancelHandshake = runtime.setTimeout(() => {
      if (this.client === client && this.status === 'connecting') this.fail(`no handshake reply within ${runtime.now() - started} ms`)
    }, Math.max(1, this.owner.timing.handshakeMs - (runtime.now() - started)))
    if (this.owner.password !== '') {
      const reply = await client.call(['AUTH', this.owner.password])
      if (reply instanceof RespError) throw new Error(`the peer refused our password (${reply.message})`)
    }
    const sentAt = runtime.now()
    const reply = await client.send(this.owner.gossipRequest())
    cancelHandshake()
    if (reply instanceof RespError && this.owner.refused(this, reply.message)) {
      this.close()
      return
    }
    if (reply instanceof RespError) throw new Error(`handshake refused: ${reply.message}`)
    if (this.closed || this.client !== client) return
    this.attempts = 0
    this.lastHeartbeatAt = runtime.now()
    this.answeredSentAt = sentAt
    this.status = 'ready'
    this.owner.gossipReply(this, reply)
    this.owner.ready(this)
  }

  private startHeartbeat (): void {
    this.stopHeartbeat()
    this.stopHeartbeats = this.owner.runtime.setInterval(() => this.beat(), this.owner.timing.heartbeatMs)
  }

  private stopHeartbeat (): void {
    this.stopHeartbeats?.()
    this.stopHeartbeats = null
  }

  /** PROTOCOL.md §Failure detection: a request unanswered for failAfterMs means down. */
  private beat (): void {
    const client = this.client
    if (client === null) return
    const waited = client.stalledMs()
    if (waited > this.owner.timing.failAfterMs) {
      this.fail(`no reply for ${waited} ms`)
      return
    }
    if (this.status !== 'ready' || this.gossipInFlight) return
    this.gossipInFlight = true
    const sentAt = this.owner.runtime.now()
    client.send(this.owner.gossipRequest()).then(reply => {
      this.gossipInFlight = false
      if (reply instanceof RespError) {
        if (this.owner.refused(this, reply.message)) this.close()
        else this.fail(`heartbeat refused: ${reply.message}`)
        return
      }
      this.lastHeartbeatAt = this.owner.runtime.now()
      if (this.client === client) this.answeredSentAt = sentAt
      this.owner.gossipReply(this, reply)
    }, () => { this.gossipInFlight = false })
  }

  private acknowledge (seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = seq
    while (this.inflight.length > 0 && (this.inflight[0]?.lastSeq ?? Infinity) <= this.ackedSeq) {
      this.inflight.shift()?.release()
    }
    this.owner.acknowledged()
  }

  /** The link is gone: nobody waits for it any more. */
  private releaseWaiters (): void {
    for (const batch of this.inflight.splice(0)) batch.release()
    this.filling?.release()
    this.filling = null
  }

  /** Drops the link (it redials, and transfers state again when it is back). */
  drop (reason: string): void {
    if (this.status !== 'down') this.fail(reason)
  }

  /**
   * Marks the link down, drops the socket and schedules a redial. Reported:
   * going down, the first failed dial, and a cause that will not pass by
   * itself (`lasting`: a certificate our CA does not vouch for) the first time
   * it is seen.
   */
  private fail (reason: string, lasting = false): void {
    const wasUp = this.status === 'ready'
    this.stopHeartbeat()
    const client = this.client
    this.client = null
    this.status = 'down'
    if (client !== null) {
      client.onClose = null
      client.close()
    }
    this.gossipInFlight = false
    this.releaseWaiters()
    if (this.closed) return
    this.owner.down(this, reason, wasUp || this.attempts === 0 || (lasting && reason !== this.lastFailure))
    this.lastFailure = reason
    // Capped exponential backoff with jitter; never more than a second (PROTOCOL.md §Failure detection).
    const t = this.owner.timing
    const ceiling = Math.min(t.retryMaxMs, t.retryMinMs * 2 ** Math.min(this.attempts, 10))
    this.attempts++
    if (this.cancelRetry === null) {
      this.cancelRetry = this.owner.runtime.setTimeout(() => {
        this.cancelRetry = null
        this.start()
      }, ceiling / 2 + this.owner.runtime.random() * ceiling / 2)
    }
  }
}
