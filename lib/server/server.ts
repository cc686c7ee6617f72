import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { errorText } from '../commands/errors.js'
import type { CommandTable, NodeContext, Session } from '../commands/index.js'
import { KeystoneError } from '../errors.js'
import { DEFAULT_PORT, FALLBACK_PORTS } from '../options.js'
import { error } from '../protocol/reply.js'
import { UNAUTHENTICATED_LIMITS, type ParserLimits } from '../protocol/request-parser.js'
import { Connection, type ConnectionHost } from './connection.js'
import { clientRefusal, contextOptions, peerRefusal, reason, serverTlsOptions, type TlsMaterial } from './tls.js'

/** How long a refused connection may take to receive its error before it is cut. */
const REFUSED_LINGER_MS = 1000

/** `host:port` of the other end, as CLIENT LIST and the log show it. */
function remoteAddress (socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
}

/**
 * The TCP socket a server-side TLS socket was made from (the one the
 * server's 'connection' event gave). Node keeps it as `_parent`, which its
 * types leave out; a test (maxclients with TLS) fails should that change.
 */
function tcpOf (socket: tls.TLSSocket): net.Socket {
  return (socket as tls.TLSSocket & { _parent?: net.Socket })._parent ?? socket
}

/**
 * The TCP front door: accepts connections, enforces maxclients, hands each
 * stream to a Connection. Clients and peers share the port, which speaks TLS
 * only when the node has a certificate (PROTOCOL.md §TLS).
 */
export class Server implements ConnectionHost {
  readonly connections = new Set<Connection>()
  private readonly tcp: net.Server
  /** The files the TLS server uses now; null: plain TCP. */
  private material: TlsMaterial | null
  /** TCP connections still in their TLS handshake: they count towards maxclients. */
  private readonly handshaking = new Set<net.Socket>()
  private nextId = 1
  private readonly fullLimits: ParserLimits
  private closing: Promise<void> | null = null

  constructor (
    readonly node: NodeContext,
    readonly table: CommandTable,
    readonly writeBarrier: () => Promise<void> | null = () => null,
    tlsMaterial: TlsMaterial | null = null,
    /** The node's runtime clock (the cluster's time): when a connection opened, for its peer-link silence. */
    private readonly runtimeNow: () => number = Date.now
  ) {
    const o = node.options
    this.fullLimits = { inlineMax: o.maxInlineLen, bulkMax: o.maxBulkLen, multibulkMax: o.maxMultibulkLen }
    this.material = tlsMaterial
    // Half-open allowed: a client that shuts down its sending side still gets
    // every reply before we close (PROTOCOL.md §End of input).
    if (tlsMaterial === null) {
      this.tcp = net.createServer({ allowHalfOpen: true }, socket => this.accept(socket))
    } else {
      // No plaintext listener at all: a client that does not speak TLS fails its handshake.
      // Not half-open until the handshake is done (accept): a client that hangs up
      // during it is closed at once, not held until the handshake timeout.
      const server = tls.createServer({ allowHalfOpen: false, ...serverTlsOptions(tlsMaterial) }, socket => this.accept(socket))
      server.on('tlsClientError', (err, socket) => this.handshakeFailed(err, socket))
      server.on('connection', (raw: net.Socket) => this.handshakeStarted(raw))
      this.tcp = server
    }
  }

  /** Whether the port speaks TLS. */
  get tls (): boolean {
    return this.material !== null
  }

  /** The files the TLS server uses now; null: plain TCP. */
  get tlsMaterial (): TlsMaterial | null {
    return this.material
  }

  /** Connections from now on get these files' certificate and CA; open ones keep theirs (PROTOCOL.md §TLS). */
  setTls (material: TlsMaterial): void {
    if (!(this.tcp instanceof tls.Server)) throw new Error('setTls on a plain TCP server')
    this.tcp.setSecureContext(contextOptions(material))
    this.material = material
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

  /**
   * Serves any duplex stream as a client connection (tests hand in their own).
   * `peerRefusal`: why it may not speak as a peer (a TLS certificate that did
   * not verify), null if it may.
   */
  handle (stream: Duplex, addr: string, peerRefusal: string | null = null): Connection {
    const now = Date.now()
    const session: Session = {
      id: this.nextId++,
      addr,
      createdAt: now,
      openedAt: this.runtimeNow(),
      name: '',
      authenticated: this.node.options.requirepass === '',
      closeAfterReply: false,
      lastCommand: 'NULL',
      lastCommandAt: now,
      isPeer: false,
      peerRefusal,
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
      for (const raw of this.handshaking) raw.destroy() // not clients yet
    })
    return this.closing
  }

  /**
   * A TCP connection to the TLS port, in its handshake until accept() or its
   * close. It holds a descriptor for up to the handshake timeout, so it counts
   * towards maxclients: beyond it, it is destroyed at once (it cannot read an
   * error before its handshake anyway).
   */
  private handshakeStarted (raw: net.Socket): void {
    if (this.closing !== null || this.connections.size + this.handshaking.size >= this.node.options.maxclients) {
      this.node.stats.rejectedConnections++
      this.node.log.debug(`TLS client ${remoteAddress(raw)} dropped before its handshake: maxclients reached`)
      raw.destroy()
      return
    }
    this.handshaking.add(raw)
    raw.once('close', () => this.handshaking.delete(raw))
  }

  private accept (socket: net.Socket): void {
    const o = this.node.options
    const stats = this.node.stats
    stats.connectionsReceived++
    socket.on('error', () => {}) // reported by the Connection, or irrelevant once refused
    const addr = remoteAddress(socket)
    if (socket instanceof tls.TLSSocket) this.handshaking.delete(tcpOf(socket))
    // Duplex's own switch, set before any 'end': half-open from now on, as on plain TCP.
    socket.allowHalfOpen = true
    if (this.closing !== null || this.connections.size >= o.maxclients) {
      stats.rejectedConnections++
      this.refuse(socket, errorText('maxClients'))
      return
    }
    let mayPeer: string | null = null
    if (socket instanceof tls.TLSSocket) {
      const hasCa = this.material?.ca != null
      const refusal = clientRefusal(socket, o.tlsAuthClients, hasCa)
      if (refusal !== null) {
        // PROTOCOL.md §TLS: the client reads why as the reply to its first command.
        stats.rejectedConnections++
        this.node.log.debug(`TLS client ${addr} refused: ${refusal}`)
        this.refuse(socket, errorText('tlsClientCert', refusal))
        return
      }
      mayPeer = peerRefusal(socket, hasCa)
    }
    socket.setNoDelay(true)
    if (o.tcpKeepalive > 0) socket.setKeepAlive(true, o.tcpKeepalive * 1000)
    if (o.timeout > 0) socket.setTimeout(o.timeout * 1000, () => socket.destroy())
    this.handle(socket, addr, mayPeer)
  }

  /** Sends one error and closes: a refused connection holds no descriptor for long. */
  private refuse (socket: net.Socket, text: string): void {
    socket.end(error(text), () => socket.destroy())
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref()
  }

  /**
   * A TLS handshake failed: a plaintext client (PROTOCOL.md §TLS), a client
   * that does not trust our certificate, a timeout. Dropped at once; logged at
   * debug only, as anyone can knock on the port.
   */
  private handshakeFailed (err: Error, socket: tls.TLSSocket): void {
    // A client that hung up has taken its address with it.
    const addr = socket.remoteAddress === undefined ? 'a client gone already' : remoteAddress(socket)
    const code = (err as NodeJS.ErrnoException).code ?? ''
    const plaintext = /WRONG_VERSION_NUMBER|HTTP_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/.test(code)
    // reason(): OpenSSL's message spans two lines; a log event is one.
    this.node.log.debug(plaintext
      ? `plaintext client ${addr} dropped: this port speaks TLS only (${reason(err)})`
      : `TLS handshake with ${addr} failed: ${reason(err)}`)
    socket.destroy()
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
