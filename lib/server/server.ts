import net from 'node:net'
import type { Duplex } from 'node:stream'
import { errorText } from '../commands/errors.js'
import type { CommandTable, NodeContext, Session } from '../commands/index.js'
import { KeystoneError } from '../errors.js'
import { DEFAULT_PORT, FALLBACK_PORTS } from '../options.js'
import { error } from '../protocol/reply.js'
import { UNAUTHENTICATED_LIMITS, type ParserLimits } from '../protocol/request-parser.js'
import { Connection, type ConnectionHost } from './connection.js'

/** How long a refused connection may take to receive its error before it is cut. */
const REFUSED_LINGER_MS = 1000

/**
 * The TCP front door: accepts connections, enforces maxclients, hands each
 * stream to a Connection. Clients and peers share the port.
 */
export class Server implements ConnectionHost {
  readonly connections = new Set<Connection>()
  private readonly tcp: net.Server
  private nextId = 1
  private readonly fullLimits: ParserLimits
  private closing: Promise<void> | null = null

  constructor (
    readonly node: NodeContext,
    readonly table: CommandTable,
    readonly writeBarrier: () => Promise<void> | null = () => null
  ) {
    const o = node.options
    this.fullLimits = { inlineMax: o.maxInlineLen, bulkMax: o.maxBulkLen, multibulkMax: o.maxMultibulkLen }
    // Half-open allowed: a client that shuts down its sending side still gets
    // every reply before we close (PROTOCOL.md §End of input).
    this.tcp = net.createServer({ allowHalfOpen: true }, socket => this.accept(socket))
  }

  limits (authenticated: boolean): ParserLimits {
    if (authenticated) return this.fullLimits
    // Before AUTH, the smaller of both: a stranger cannot make us buffer megabytes.
    return {
      inlineMax: Math.min(this.fullLimits.inlineMax, UNAUTHENTICATED_LIMITS.inlineMax),
      bulkMax: Math.min(this.fullLimits.bulkMax, UNAUTHENTICATED_LIMITS.bulkMax),
      multibulkMax: Math.min(this.fullLimits.multibulkMax, UNAUTHENTICATED_LIMITS.multibulkMax)
    }
  }

  closed (connection: Connection): void {
    this.connections.delete(connection)
  }

  * sessions (): Iterable<Session> {
    for (const c of this.connections) yield c.session
  }

  /** Listens on the options' host and port (PROTOCOL.md §Ports). */
  async listen (): Promise<{ host: string, port: number }> {
    const { host, port } = this.node.options
    if (port !== undefined) {
      await this.tryListen(host, port).then(ok => {
        if (!ok) throw new KeystoneError('KS_ERR_PORT_BUSY', `port ${port} on ${host} is already in use`)
      })
    } else {
      let bound = false
      for (let p = DEFAULT_PORT; !bound && p <= FALLBACK_PORTS[1]; p = p === DEFAULT_PORT ? FALLBACK_PORTS[0] : p + 1) {
        bound = await this.tryListen(host, p)
      }
      if (!bound) throw new KeystoneError('KS_ERR_PORT_BUSY', `ports ${DEFAULT_PORT} and ${FALLBACK_PORTS[0]}..${FALLBACK_PORTS[1]} on ${host} are all in use`)
    }
    this.tcp.on('error', err => this.node.log.error(`server: ${err.message}`))
    return this.address()
  }

  address (): { host: string, port: number } {
    const a = this.tcp.address()
    if (a === null || typeof a === 'string') return { host: this.node.options.host, port: 0 }
    return { host: a.address, port: a.port }
  }

  /** Serves any duplex stream as a client connection (tests hand in their own). */
  handle (stream: Duplex, addr: string): Connection {
    const now = Date.now()
    const session: Session = {
      id: this.nextId++,
      addr,
      createdAt: now,
      name: '',
      authenticated: this.node.options.requirepass === '',
      closeAfterReply: false,
      lastCommand: 'NULL',
      lastCommandAt: now,
      isPeer: false,
      closed: false,
      inputEnded: false,
      multi: null,
      watching: null
    }
    const connection = new Connection(this, stream, session)
    this.connections.add(connection)
    return connection
  }

  /**
   * Stops accepting, sends every queued reply, closes every connection. A client
   * that does not take its replies within `graceMs` is cut off. Idempotent.
   */
  close (graceMs = 5000): Promise<void> {
    this.closing ??= new Promise(resolve => {
      const force = setTimeout(() => { for (const c of this.connections) c.destroy() }, graceMs)
      force.unref()
      this.tcp.close(() => {
        clearTimeout(force)
        resolve()
      })
      for (const c of this.connections) c.close()
    })
    return this.closing
  }

  private accept (socket: net.Socket): void {
    const o = this.node.options
    const stats = this.node.stats
    stats.connectionsReceived++
    socket.on('error', () => {}) // reported by the Connection, or irrelevant once refused
    if (this.closing !== null || this.connections.size >= o.maxclients) {
      stats.rejectedConnections++
      // Closed once the error is on its way: a refused peer holds no descriptor.
      socket.end(error(errorText('maxClients')), () => socket.destroy())
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref()
      return
    }
    socket.setNoDelay(true)
    if (o.tcpKeepalive > 0) socket.setKeepAlive(true, o.tcpKeepalive * 1000)
    if (o.timeout > 0) socket.setTimeout(o.timeout * 1000, () => socket.destroy())
    this.handle(socket, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`)
  }

  private tryListen (host: string, port: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.tcp.off('listening', onListening)
        if (err.code === 'EADDRINUSE') resolve(false)
        else reject(new KeystoneError('KS_ERR_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`))
      }
      const onListening = (): void => {
        this.tcp.off('error', onError)
        resolve(true)
      }
      this.tcp.once('error', onError)
      this.tcp.once('listening', onListening)
      this.tcp.listen(port, host)
    })
  }
}
