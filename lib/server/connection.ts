import type { Duplex } from 'node:stream'
import { ProtocolError } from '../errors.js'
import { call, commandName, countError, lookup, queue, refusedInTransaction, rejected, unwatchAll, type CommandContext, type CommandTable, type NodeContext, type Session } from '../commands/index.js'
import { CommandError } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import { concat, error, type Encoded } from '../protocol/reply.js'
import { RequestParser, type ParserLimits } from '../protocol/request-parser.js'

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly node: NodeContext
  readonly table: CommandTable
  /** Framing limits for a client that has (or has not) authenticated. */
  limits: (authenticated: boolean) => ParserLimits
  /**
   * After a write command: resolves when the write is safe to acknowledge, or null
   * if it already is; rejects with a CommandError (its text is the reply) if it cannot be made safe.
   */
  writeBarrier: () => Promise<void> | null
  /** Called once when the connection is gone. */
  closed: (connection: Connection) => void
}

/** A reply's place in the queue: `reply` once it may go, `held` while its write awaits acknowledgement. */
interface Slot {
  reply: Encoded | null
  held: Encoded | null
}

/** Write replies held until one barrier settles (the writes of one replication batch). */
interface HeldGroup {
  readonly barrier: Promise<void>
  readonly slots: Slot[]
}

/**
 * Replies that may wait (on replication) before the connection stops reading:
 * a client pipelining writes cannot make the server hold unbounded replies.
 */
const MAX_WAITING_REPLIES = 1024

/** Requests parsed ahead of running them, at most, for the store to warm their keys together (Store.warm). */
const READ_AHEAD = 64

/** `POST` and `Host:` are HTTP, never commands: the sign of a cross-protocol request. */
function isCrossProtocol (args: Buffer[]): boolean {
  const name = args[0] as Buffer
  if (name.length === 4) return namedAs(name, 'post')
  return name.length === 5 && namedAs(name, 'host:')
}

/**
 * Whether `name` spells `lower` (lowercase letters and other ASCII) in any
 * case: compared in place, with no string made of a request's bytes (HSET and
 * PING are four bytes too, and this runs for every request).
 */
function namedAs (name: Buffer, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i)
    const b = name[i] as number
    // A letter in either case; anything else exactly (0x1a | 0x20 is ':').
    if (b !== c && !(c >= 0x61 && c <= 0x7a && (b | 0x20) === c)) return false
  }
  return true
}

/**
 * One client: stream → parser → command table → store → reply encoder → the one
 * write path (`flush`). Replies to a batch of pipelined commands go out in one
 * write per read; a reply that waits (a replicated write) holds back the ones
 * after it, so replies always come in request order.
 */
export class Connection implements CommandContext {
  readonly session: Session
  readonly node: NodeContext
  private readonly parser: RequestParser
  /** Replies ready to send, in order. */
  private out: Encoded[] = []
  private outBytes = 0
  /** Replies still waiting, in order; while any waits, later replies queue here too. */
  private waiting: Slot[] = []
  /** The latest group of held write replies: writes sharing its barrier join it. */
  private held: HeldGroup | null = null
  private paused = false
  private releaseQueued = false
  private closing = false
  private gone = false
  /** The client half-closed: run what it sent, send every reply, then close (PROTOCOL.md §End of input). */
  private inputEnded = false
  /** Requests parsed and not yet run (nextRequest), from `aheadAt` on; the keys among them, for Store.warm. */
  private readonly ahead: Array<Buffer[] | ProtocolError> = []
  private aheadAt = 0
  private readonly aheadKeys: Buffer[] = []

  constructor (private readonly host: ConnectionHost, private readonly stream: Duplex, session: Session) {
    this.session = session
    this.node = host.node
    this.parser = new RequestParser(host.limits(session.authenticated))
    stream.on('data', (chunk: Buffer) => this.receive(chunk))
    stream.on('drain', () => this.safely(() => this.resume()))
    stream.on('error', (err: Error) => this.node.log.debug(`client ${session.addr}: ${err.message}`))
    stream.on('close', () => this.teardown())
    stream.on('end', () => this.endOfInput())
  }

  /** Sends what is queued, then closes. Idempotent. */
  close (): void {
    this.closing = true
    this.dropAhead()
    this.parser.release()
    this.flush()
  }

  /** Drops the connection at once, replies or not. */
  destroy (): void {
    this.drop()
  }

  /** Gone for good: nothing more is run or sent. */
  private drop (): void {
    this.closing = true
    this.gone = true
    this.dropAhead()
    this.parser.release()
    this.stream.destroy()
  }

  /**
   * The client sent FIN. Every complete command it sent still runs and is
   * answered in order, waiting replies included; then we close. A command cut
   * short by the FIN is dropped unanswered, as Redis does.
   */
  private endOfInput (): void {
    this.inputEnded = true
    this.session.inputEnded = true
    this.safely(() => this.process())
  }

  private receive (chunk: Buffer): void {
    this.node.stats.netInputBytes += chunk.length
    if (this.closing) return
    this.session.lastCommandAt = Date.now() // once per read, not per command
    this.parser.feed(chunk)
    this.safely(() => this.process())
  }

  /** Never throw from a socket or promise callback: a bug here costs this client, not the server. */
  private safely (work: () => void): void {
    try {
      work()
    } catch (err) {
      this.node.log.error(`client ${this.session.addr}: ${err instanceof Error ? err.stack ?? err.message : String(err)}; closing it`)
      this.drop()
    }
  }

  private resume (): void {
    if (!this.paused || this.gone) return
    this.paused = false
    this.stream.resume()
    this.process()
  }

  /** Runs every complete command received, until one closes the connection or replies pile up. */
  private process (): void {
    const softLimit = this.node.options.clientOutputSoftLimit
    while (!this.closing) {
      if (this.outBytes > softLimit) this.flush()
      const full = this.stream.writableLength > softLimit && this.stream.writableNeedDrain
      if (full || this.waiting.length >= MAX_WAITING_REPLIES) {
        // PROTOCOL.md §Back-pressure: stop reading a client that does not read its replies.
        // Either the socket is past its high-water mark too, so 'drain' will come (a
        // soft limit below the mark acts as the mark), or replies are waiting, and
        // the last one to arrive resumes us.
        this.paused = true
        this.stream.pause()
        break
      }
      const request = this.nextRequest()
      if (request === null) {
        if (this.inputEnded) this.close()
        break
      }
      if (request instanceof ProtocolError) {
        this.node.log.debug(`client ${this.session.addr}: protocol error: ${request.message}`)
        const reply = error(errorText('protocol', request.message))
        countError(this.node.stats, reply)
        this.push(reply)
        this.close()
        return
      }
      if (isCrossProtocol(request)) {
        // PROTOCOL.md §Cross-protocol requests: a browser tricked into sending
        // HTTP here must not get the commands in its body run.
        this.node.log.warn(`Possible SECURITY ATTACK detected: client ${this.session.addr} sent ${request[0]?.toString('latin1')}, an HTTP request (a web page making a browser talk to this port); connection closed, nothing after it run`)
        this.drop()
        return
      }
      this.execute(request)
    }
    this.flush()
  }

  /**
   * The next request: one parsed ahead, or else up to READ_AHEAD more parsed
   * at once and their keys (the first argument, for most commands) handed to
   * Store.warm, so that their cache misses overlap before they run one by one,
   * in order, as before. Only once the client is authenticated: before, AUTH
   * changes the framing limits the requests after it are read with.
   */
  private nextRequest (): Buffer[] | ProtocolError | null {
    if (this.aheadAt < this.ahead.length) return this.ahead[this.aheadAt++] as Buffer[] | ProtocolError
    if (!this.session.authenticated) return this.parser.next()
    const ahead = this.ahead // every request in it has run: refilled, not made anew per batch
    ahead.length = 0
    const keys = this.aheadKeys
    for (let n = 0; n < READ_AHEAD; n++) {
      const request = this.parser.next()
      if (request === null) break
      ahead.push(request)
      if (request instanceof ProtocolError) break // the parser stays failed
      if (request.length >= 2) keys.push(request[1] as Buffer)
    }
    if (keys.length > 1) this.node.store.warm(keys)
    keys.length = 0
    this.aheadAt = 0
    return ahead.length > 0 ? this.ahead[this.aheadAt++] as Buffer[] | ProtocolError : null
  }

  private dropAhead (): void {
    this.ahead.length = 0
    this.aheadAt = 0
  }

  private execute (args: Buffer[]): void {
    const session = this.session
    const found = lookup(this.host.table, this, args)
    if (typeof found === 'string') {
      const reply = refusedInTransaction(this, args, found)
      rejected(this.node.stats, commandName(this.host.table, args), reply)
      this.push(reply)
      return
    }
    const { name, spec } = found
    session.lastCommand = name
    // PROTOCOL.md §Transactions: between MULTI and EXEC commands are queued, not run.
    const multi = session.multi
    if (multi !== null && spec.runsInMulti !== true) {
      this.push(queue(session, name, spec, args))
      return
    }
    const wasAuthenticated = session.authenticated
    // Timed and counted (INFO commandstats, SLOWLOG) around the handler only, not the barrier below.
    const result = call(this, name, spec, args)
    // PROTOCOL.md §Acknowledgement: a write (or an EXEC that wrote) is answered once the peers have it.
    const barrier = spec.write === true || (multi !== null && multi.wrote) ? this.host.writeBarrier() : null
    if (typeof result !== 'string' && !Buffer.isBuffer(result)) this.wait(barrier === null ? result : Promise.all([barrier, result]).then(([, r]) => r))
    else if (barrier !== null) this.hold(barrier, result)
    else this.push(result)
    if (session.authenticated !== wasAuthenticated) this.parser.limits = this.host.limits(session.authenticated)
    if (session.closeAfterReply) this.close()
  }

  private push (reply: Encoded): void {
    if (this.waiting.length > 0) {
      this.waiting.push({ reply, held: null })
    } else {
      this.out.push(reply)
      this.outBytes += reply.length
    }
  }

  /**
   * Queues a write's reply until its barrier settles. Writes that share a
   * barrier (one replication batch) share one callback: no promise per write.
   */
  private hold (barrier: Promise<void>, reply: Encoded): void {
    const slot: Slot = { reply: null, held: reply }
    this.waiting.push(slot)
    const group = this.held
    if (group !== null && group.barrier === barrier) {
      group.slots.push(slot)
      return
    }
    const fresh: HeldGroup = { barrier, slots: [slot] }
    this.held = fresh
    barrier.then(() => {
      if (this.held === fresh) this.held = null
      for (const s of fresh.slots) this.settle(s, s.held as Encoded)
    }, err => {
      if (this.held === fresh) this.held = null
      // A barrier refused (the log could not be written): the clients get that error, not OK.
      const reply = err instanceof CommandError ? error(err.message) : error(errorText('internal'))
      if (!(err instanceof CommandError)) this.node.log.error(`write acknowledgement failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
      for (const s of fresh.slots) {
        countError(this.node.stats, reply)
        this.settle(s, reply)
      }
    })
  }

  private wait (reply: Promise<Encoded>): void {
    const slot: Slot = { reply: null, held: null }
    this.waiting.push(slot)
    reply.then(r => this.settle(slot, r), err => {
      // A barrier refused (the log could not be written): the client gets that error, not OK.
      const refusal = err instanceof CommandError ? error(err.message) : error(errorText('internal'))
      if (!(err instanceof CommandError)) this.node.log.error(`command failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
      countError(this.node.stats, refusal)
      this.settle(slot, refusal)
    })
  }

  /**
   * A waiting reply is ready. Replies that become ready together (the writes of
   * one replication batch) go out together: the release is queued once, after them.
   */
  private settle (slot: Slot, reply: Encoded): void {
    slot.reply = reply
    if (this.releaseQueued) return
    this.releaseQueued = true
    queueMicrotask(() => this.safely(() => this.release()))
  }

  /** Sends every ready reply at the head of the queue, in order, in one write. */
  private release (): void {
    this.releaseQueued = false
    while (this.waiting.length > 0 && this.waiting[0]?.reply != null) {
      const ready = (this.waiting.shift() as Slot).reply as Encoded
      this.out.push(ready)
      this.outBytes += ready.length
    }
    this.flush()
    if (this.waiting.length === 0) {
      if (this.paused) this.resume()
      else if (!this.closing) this.process()
    }
  }


  /** The one place replies are written to a client. */
  private flush (): void {
    if (this.gone) return
    if (this.out.length > 0) {
      const chunk = this.out.length === 1 ? this.out[0] as Encoded : concat(this.out)
      this.out = []
      this.outBytes = 0
      this.node.stats.netOutputBytes += chunk.length
      if (typeof chunk === 'string') this.stream.write(chunk, 'latin1')
      else this.stream.write(chunk)
      if (this.stream.writableLength > this.node.options.clientOutputHardLimit) {
        this.node.log.warn(`client ${this.session.addr}: dropped, ${this.stream.writableLength} bytes of replies unread (client-output-hard-limit)`)
        this.drop()
        return
      }
    }
    if (this.closing && this.waiting.length === 0) {
      this.gone = true
      this.stream.end(() => this.stream.destroy())
    }
  }

  private teardown (): void {
    this.gone = true
    this.closing = true
    this.session.closed = true
    this.session.multi = null
    unwatchAll(this)
    this.dropAhead()
    this.parser.release()
    this.host.closed(this)
  }
}
