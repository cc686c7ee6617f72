import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { command } from '../protocol/reply.js'
import { ReplyParser, RespError, type RespValue } from '../protocol/reply-parser.js'
import { reason } from '../server/tls.js'

export interface ConnectOptions {
  host: string
  port: number
  /** Local address to dial from (peer links originate from --host). */
  localAddress?: string
  /** Give up connecting after this many ms. Default 5000. */
  connectTimeoutMs?: number
  /** The clock replies are timed by (stalledMs). Default Date.now. */
  now?: () => number
  /**
   * Speak TLS (PROTOCOL.md §TLS): Node's tls.connect options (ca, cert, key,
   * rejectUnauthorized, checkServerIdentity, servername). Undefined: plain TCP.
   */
  tls?: tls.ConnectionOptions
}

/**
 * The server's certificate did not verify (a CA that did not issue it, a name
 * it does not carry): trying again will not help, unlike a refused connection.
 */
export class TlsVerifyError extends Error {
  constructor (message: string, readonly reason: string) {
    super(message)
    this.name = 'TlsVerifyError'
  }
}

/** The error with OpenSSL's two-line message cut to its reason: it ends up in log lines and stderr. */
function oneLine (err: Error): Error {
  const text = reason(err)
  if (text !== err.message) err.message = text
  return err
}

/** One send's replies: `count` of them, delivered together. */
interface Waiter {
  count: number
  replies: RespValue[]
  resolve: (values: RespValue[]) => void
  reject: (err: Error) => void
  sentAt: number
}

/**
 * A minimal pipelining RESP2 client: commands go out as RESP arrays, replies
 * are matched to calls in order. Used by keystone-cli, peer links and tests.
 */
export class RespClient {
  private readonly parser = new ReplyParser()
  private readonly waiters: Waiter[] = []
  private closedError: Error | null = null
  private corked = false
  /** When the last reply arrived, ms since the epoch. */
  private lastReplyAt = 0
  onClose: ((err: Error) => void) | null = null

  private constructor (readonly socket: Duplex, private readonly now: () => number) {
    if (socket instanceof net.Socket) socket.setNoDelay(true)
    socket.on('data', chunk => this.receive(chunk))
    socket.on('error', err => this.fail(oneLine(err)))
    socket.on('close', () => this.fail(new Error('connection closed')))
  }

  /** A client over any connected duplex stream (the cluster simulator's links). */
  static over (stream: Duplex, now: () => number = Date.now): RespClient {
    return new RespClient(stream, now)
  }

  static connect (options: ConnectOptions): Promise<RespClient> {
    const where = `${options.host}:${options.port}`
    return new Promise((resolve, reject) => {
      const secure = options.tls
      // Verification is ours (below), so that its failure is told apart from a dropped connection.
      let socket: net.Socket
      if (secure === undefined) {
        socket = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress })
      } else {
        // tls.connect passes the socket options (localAddress) on to its TCP socket; its type leaves them out.
        const both: tls.ConnectionOptions & { localAddress?: string } = { ...secure, host: options.host, port: options.port, rejectUnauthorized: false }
        if (options.localAddress !== undefined) both.localAddress = options.localAddress
        // SNI carries a host name, never an address.
        if (both.servername === undefined && net.isIP(options.host) === 0) both.servername = options.host
        socket = tls.connect(both)
      }
      let tcpUp = false
      socket.once('connect', () => { tcpUp = true })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`timed out connecting to ${where}${secure !== undefined && tcpUp ? ' (TLS handshake)' : ''}`))
      }, options.connectTimeoutMs ?? 5000)
      socket.once('error', err => {
        clearTimeout(timer)
        // Connected, then failed: the TLS handshake did (a plaintext server answers bytes that are no TLS record).
        reject(secure !== undefined && tcpUp ? new Error(`TLS handshake with ${where} failed: ${reason(err)}`) : oneLine(err))
      })
      const ready = (): void => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new RespClient(socket, options.now ?? Date.now))
      }
      if (secure === undefined) {
        socket.once('connect', ready)
        return
      }
      socket.once('secureConnect', () => {
        const tlsSocket = socket as tls.TLSSocket
        if (secure.rejectUnauthorized !== false && !tlsSocket.authorized) {
          clearTimeout(timer)
          socket.destroy()
          const why = String(tlsSocket.authorizationError)
          reject(new TlsVerifyError(`TLS: the certificate of ${where} is not trusted: ${why}`, why))
          return
        }
        ready()
      })
    })
  }

  get closed (): boolean {
    return this.closedError !== null
  }

  /** Sends one command; resolves with its reply (an error reply is a RespError value, not a rejection). */
  call (args: ReadonlyArray<Buffer | string>): Promise<RespValue> {
    return this.send(command(args))
  }

  /** Sends pre-encoded request bytes expecting exactly one reply. */
  send (bytes: string | Buffer): Promise<RespValue> {
    return this.sendMany(bytes, 1).then(replies => replies[0] as RespValue)
  }

  /**
   * Sends pre-encoded bytes holding `count` requests; resolves with their
   * replies, in order, once all have come (one promise for a whole batch).
   */
  sendMany (bytes: string | Buffer, count: number): Promise<RespValue[]> {
    if (this.closedError !== null) return Promise.reject(this.closedError)
    return new Promise((resolve, reject) => {
      this.waiters.push({ count, replies: [], resolve, reject, sentAt: this.now() })
      // Commands sent in the same tick leave in one write: pipelining for free.
      if (!this.corked) {
        this.corked = true
        this.socket.cork()
        process.nextTick(() => {
          this.corked = false
          this.socket.uncork()
        })
      }
      if (typeof bytes === 'string') this.socket.write(bytes, 'latin1')
      else this.socket.write(bytes)
    })
  }

  /** Replies outstanding. */
  get pending (): number {
    return this.waiters.length
  }

  /**
   * How long the server has kept us waiting, ms: since the last reply arrived
   * (or the oldest unanswered command was sent, if later); 0 when nothing is
   * outstanding. A server busy answering a long pipeline is not stalled.
   */
  stalledMs (now = this.now()): number {
    const first = this.waiters[0]
    return first === undefined ? 0 : now - Math.max(first.sentAt, this.lastReplyAt)
  }

  /** Like call, but an error reply rejects. */
  async expect (args: ReadonlyArray<Buffer | string>): Promise<RespValue> {
    const reply = await this.call(args)
    if (reply instanceof RespError) throw new Error(reply.message)
    return reply
  }

  close (): void {
    this.socket.destroy()
  }

  /**
   * Hands the socket over to a caller that reads and writes it itself
   * (keystone-cli --pipe); this client is done with it. Only with nothing outstanding.
   */
  detach (): Duplex {
    if (this.waiters.length > 0) throw new Error('detach with replies outstanding')
    for (const event of ['data', 'error', 'close'] as const) this.socket.removeAllListeners(event)
    this.closedError = new Error('detached')
    return this.socket
  }

  private receive (chunk: Buffer): void {
    this.parser.feed(chunk)
    try {
      for (;;) {
        const reply = this.parser.next()
        if (reply === undefined) return
        const waiter = this.waiters[0]
        if (waiter === undefined) continue // a reply nobody asked for: ignored
        this.lastReplyAt = this.now()
        waiter.replies.push(reply)
        if (waiter.replies.length === waiter.count) {
          this.waiters.shift()
          waiter.resolve(waiter.replies)
        }
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
      this.socket.destroy()
    }
  }

  private fail (err: Error): void {
    if (this.closedError !== null) return
    this.closedError = err
    for (const w of this.waiters.splice(0)) w.reject(err)
    this.onClose?.(err)
  }
}
