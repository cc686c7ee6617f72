import { RespClient } from '../client/resp-client.js'
import type { Logger } from '../log.js'
import { parseAddress } from '../options.js'
import { concat, type Encoded } from '../protocol/reply.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'

/** connecting: dialling or handshaking; ready: replicating; down: waiting to redial. */
export type LinkStatus = 'connecting' | 'ready' | 'down'

/** Timing of heartbeats and failure detection (PROTOCOL.md §Failure detection). */
export interface LinkTiming {
  /** A heartbeat goes out this often, ms. */
  heartbeatMs: number
  /** A peer that leaves a request unanswered this long is down, ms. */
  failAfterMs: number
  /** Redial delays grow from this, ms... */
  retryMinMs: number
  /** ...to at most this (with jitter below it), ms. */
  retryMaxMs: number
}

export const DEFAULT_TIMING: LinkTiming = { heartbeatMs: 250, failAfterMs: 1500, retryMinMs: 100, retryMaxMs: 900 }

/** What a link needs from the cluster that owns it. */
export interface LinkOwner {
  readonly log: Logger
  readonly timing: LinkTiming
  readonly password: string
  /** Local address to dial from (--host when it is a specific IP). */
  readonly localAddress: string | undefined
  /** The GOSSIP request this node sends as handshake and heartbeat. */
  gossipRequest: () => Encoded
  /** A GOSSIP reply arrived on the link. */
  gossipReply: (link: PeerLink, reply: RespValue) => void
  ready: (link: PeerLink) => void
  down: (link: PeerLink, reason: string) => void
}

export interface LinkStats {
  writesSent: number
  bytesSent: number
  fullSyncsSent: number
}

/** Replicated writes sent together, and the promise that they have all been answered. */
class Batch {
  readonly requests: Encoded[] = []
  lastSeq = 0
  private settled = false
  private resolve: (() => void) | null = null
  private promise: Promise<void> | null = null

  add (request: Encoded, seq: number): void {
    this.requests.push(request)
    this.lastSeq = seq
  }

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
  /** Highest sequence number of a local write this peer has acknowledged. */
  ackedSeq = 0
  private client: RespClient | null = null
  /** Writes queued this turn of the event loop. */
  private filling: Batch | null = null
  /** Batches sent and not yet answered, oldest first. */
  private inflight: Batch[] = []
  private heartbeat: NodeJS.Timeout | null = null
  private retry: NodeJS.Timeout | null = null
  private attempts = 0
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
    if (this.closed || this.status !== 'down' || this.retry !== null) return
    this.connect().catch(err => this.fail(`connect: ${(err as Error).message}`))
  }

  /**
   * Queues a replicated write (local write number `seq`). Writes queued in one
   * turn of the event loop leave as one batch: one socket write, one promise,
   * however many clients wrote (PROTOCOL.md §Replication).
   */
  replicate (request: Encoded, seq: number): void {
    if (this.status !== 'ready' || this.client === null) return
    this.stats.writesSent++
    this.stats.bytesSent += request.length
    if (this.filling === null) {
      this.filling = new Batch()
      setImmediate(() => this.sendBatch()) // after this turn's reads: many clients share a batch
    }
    this.filling.add(request, seq)
  }

  private sendBatch (): void {
    const batch = this.filling
    this.filling = null
    const client = this.client
    if (batch === null) return
    if (this.status !== 'ready' || client === null) {
      batch.release()
      return
    }
    this.inflight.push(batch)
    client.sendMany(concat(batch.requests), batch.requests.length).then(replies => {
      const refused = replies.find(r => r instanceof RespError)
      if (refused !== undefined) this.owner.log.warn(`peer ${this.addr} refused a write: ${String(refused)}`)
      this.acknowledge(batch.lastSeq)
    }, () => { /* the link failed: fail() releases the batches */ })
  }

  /** Sends any request on the link; resolves with its reply. */
  request (request: Encoded): Promise<RespValue> {
    const client = this.client
    if (this.status === 'down' || client === null) return Promise.reject(new Error(`peer ${this.addr} is down`))
    this.stats.bytesSent += request.length
    return client.send(request)
  }

  /**
   * Resolves once the peer has acknowledged write `seq`, or goes down; null if
   * it has, or if the write never went to it. Writes of one batch share a promise.
   */
  barrier (seq: number): Promise<void> | null {
    if (this.status !== 'ready' || this.ackedSeq >= seq) return null
    for (const batch of this.inflight) if (batch.lastSeq >= seq) return batch.done()
    return this.filling !== null && this.filling.lastSeq >= seq ? this.filling.done() : null
  }

  /** Writes not yet acknowledged (INFO). */
  get pendingAcks (): number {
    return this.client?.pending ?? 0
  }

  close (): void {
    this.closed = true
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
    this.stopHeartbeat()
    this.client?.close()
    this.client = null
    this.status = 'down'
    this.releaseWaiters()
  }

  private async connect (): Promise<void> {
    this.status = 'connecting'
    const client = await RespClient.connect({
      host: this.host,
      port: this.port,
      localAddress: this.owner.localAddress,
      connectTimeoutMs: this.owner.timing.failAfterMs
    })
    if (this.closed) {
      client.close()
      return
    }
    this.client = client
    client.onClose = err => this.fail(err.message)
    this.startHeartbeat()
    if (this.owner.password !== '') {
      const reply = await client.call(['AUTH', this.owner.password])
      if (reply instanceof RespError) throw new Error(`the peer refused our password (${reply.message})`)
    }
    const reply = await client.send(this.owner.gossipRequest())
    if (reply instanceof RespError) throw new Error(`handshake refused: ${reply.message}`)
    if (this.closed || this.client !== client) return
    this.attempts = 0
    this.lastHeartbeatAt = Date.now()
    this.status = 'ready'
    this.owner.gossipReply(this, reply)
    this.owner.ready(this)
  }

  private startHeartbeat (): void {
    this.stopHeartbeat()
    this.heartbeat = setInterval(() => this.beat(), this.owner.timing.heartbeatMs)
    this.heartbeat.unref()
  }

  private stopHeartbeat (): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    this.heartbeat = null
  }

  /** PROTOCOL.md §Failure detection: a request unanswered for failAfterMs means down. */
  private beat (): void {
    const client = this.client
    if (client === null) return
    const waited = client.oldestPendingMs()
    if (waited > this.owner.timing.failAfterMs) {
      this.fail(`no reply for ${waited} ms`)
      return
    }
    if (this.status !== 'ready' || this.gossipInFlight) return
    this.gossipInFlight = true
    client.send(this.owner.gossipRequest()).then(reply => {
      this.gossipInFlight = false
      if (reply instanceof RespError) {
        this.fail(`heartbeat refused: ${reply.message}`)
        return
      }
      this.lastHeartbeatAt = Date.now()
      this.owner.gossipReply(this, reply)
    }, () => { this.gossipInFlight = false })
  }

  private acknowledge (seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = seq
    while (this.inflight.length > 0 && (this.inflight[0]?.lastSeq ?? Infinity) <= this.ackedSeq) {
      this.inflight.shift()?.release()
    }
  }

  /** The link is gone: nobody waits for it any more. */
  private releaseWaiters (): void {
    for (const batch of this.inflight.splice(0)) batch.release()
    this.filling?.release()
    this.filling = null
  }

  /** Marks the link down, drops the socket and schedules a redial. */
  private fail (reason: string): void {
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
    if (wasUp || this.attempts === 0) this.owner.down(this, reason)
    // Capped exponential backoff with jitter; never more than a second (CONTRACT G4).
    const t = this.owner.timing
    const ceiling = Math.min(t.retryMaxMs, t.retryMinMs * 2 ** Math.min(this.attempts, 10))
    this.attempts++
    if (this.retry === null) {
      this.retry = setTimeout(() => {
        this.retry = null
        this.start()
      }, ceiling / 2 + Math.random() * ceiling / 2)
      this.retry.unref()
    }
  }
}
