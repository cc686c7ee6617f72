// Simulated links between nodes: each connection is a pair of duplex streams
// whose bytes (and ends, and closes) travel in order, after a delay, through
// the scheduler. A cut holds what is sent one way until it heals (a partition
// that TCP rides out). A packet is handed over as an event of the receiver:
// a paused receiver reads it when it resumes, a dead one never.

import { Duplex } from 'node:stream'
import { RespClient, type ConnectOptions } from '../../lib/client/resp-client.js'
import type { PeerClient } from '../../lib/cluster/runtime.js'
import type { Random } from './random.js'
import type { Owner, Scheduler } from './scheduler.js'

/** Where connections to an address end up: a live node's server. */
export interface Listener {
  readonly owner: Owner
  accept: (stream: Duplex, remote: string) => void
}

type Packet = { kind: 'data', bytes: Buffer } | { kind: 'end' } | { kind: 'close' }

/** One direction of one connection. */
interface Direction {
  readonly from: string
  readonly to: string
  readonly receiver: Owner
  lastAt: number
  held: Packet[]
  /** The receiving stream, once made. */
  target: Duplex | null
}

export class SimNetwork {
  private readonly listeners = new Map<string, Listener>()
  /** Directed cuts, as `from>to`. */
  private readonly cuts = new Set<string>()
  private readonly directions = new Set<Direction>()
  /** Every connection end, by owner: a crash closes them all. */
  private readonly ends = new Map<Owner, Set<Duplex>>()
  private serial = 0
  /** Delay of each hop, ms. */
  minDelay = 1
  maxDelay = 5

  constructor (private readonly sched: Scheduler, private readonly rng: Random) {}

  listen (addr: string, listener: Listener): void {
    this.listeners.set(addr, listener)
  }

  unlisten (addr: string, listener: Listener): void {
    if (this.listeners.get(addr) === listener) this.listeners.delete(addr)
  }

  isCut (from: string, to: string): boolean {
    return this.cuts.has(`${from}>${to}`)
  }

  cut (from: string, to: string): void {
    this.cuts.add(`${from}>${to}`)
  }

  heal (from: string, to: string): void {
    this.cuts.delete(`${from}>${to}`)
    for (const d of this.directions) if (d.from === from && d.to === to) this.release(d)
  }

  healAll (): void {
    this.cuts.clear()
    for (const d of this.directions) this.release(d)
  }

  /** Destroys every connection end `owner` holds (its process died): the far ends see them close. */
  closeAll (owner: Owner): void {
    for (const s of this.ends.get(owner) ?? []) s.destroy()
    this.ends.delete(owner)
  }

  /**
   * Dials `options` from `from` (a node's address, or a client's name) for
   * `owner`. Refused when nothing listens; when the path is cut or the node
   * is paused, the attempt times out as an unanswered one would.
   */
  dial (from: string, owner: Owner, options: ConnectOptions, now: () => number): Promise<PeerClient> {
    const to = `${options.host}:${options.port}`
    return new Promise((resolve, reject) => {
      const timeout = options.connectTimeoutMs ?? 5000
      this.sched.after(this.delay(), owner, () => {
        const listener = this.listeners.get(to)
        if (listener !== undefined && listener.owner.alive && !this.isCut(from, to) && !this.isCut(to, from) && !listener.owner.paused) {
          resolve(RespClient.over(this.connect(from, owner, to, listener), now))
        } else if (listener === undefined || !listener.owner.alive) {
          reject(new Error(`connect ECONNREFUSED ${to}`))
        } else {
          this.sched.after(timeout, owner, () => reject(new Error(`timed out connecting to ${to}`)))
        }
      })
    })
  }

  /** A connection from `from` to the listener at `to`; returns the dialling end. */
  connect (from: string, owner: Owner, to: string, listener: Listener): Duplex {
    const out: Direction = { from, to, receiver: listener.owner, lastAt: 0, held: [], target: null }
    const back: Direction = { from: to, to: from, receiver: owner, lastAt: 0, held: [], target: null }
    const mine = this.stream(out, owner)
    const theirs = this.stream(back, listener.owner)
    out.target = theirs
    back.target = mine
    this.directions.add(out)
    this.directions.add(back)
    const forget = (): void => {
      if (mine.destroyed && theirs.destroyed) {
        this.directions.delete(out)
        this.directions.delete(back)
      }
    }
    mine.on('close', forget)
    theirs.on('close', forget)
    listener.accept(theirs, `${from}#${++this.serial}`)
    return mine
  }

  /** The end owned by `owner`, sending along `dir`. */
  private stream (dir: Direction, owner: Owner): Duplex {
    const send = (p: Packet): void => {
      if (!owner.alive && p.kind !== 'close') return
      dir.held.push(p)
      if (!this.isCut(dir.from, dir.to)) this.release(dir)
    }
    const stream = new Duplex({
      read () {},
      write (chunk: Buffer, _encoding, cb) {
        send({ kind: 'data', bytes: Buffer.from(chunk) })
        cb()
      },
      final (cb) {
        send({ kind: 'end' })
        cb()
      },
      destroy (err, cb) {
        send({ kind: 'close' })
        cb(err)
      }
    })
    stream.on('error', () => {})
    let mine = this.ends.get(owner)
    if (mine === undefined) this.ends.set(owner, mine = new Set())
    mine.add(stream)
    stream.on('close', () => this.ends.get(owner)?.delete(stream))
    return stream
  }

  /** Sends what `dir` holds, in order, each after this hop's delay. */
  private release (dir: Direction): void {
    for (const p of dir.held.splice(0)) {
      const at = Math.max(dir.lastAt, this.sched.now + this.delay())
      dir.lastAt = at
      this.sched.at(at, dir.receiver, () => {
        const s = dir.target
        if (s === null || s.destroyed) return
        if (p.kind === 'data') s.push(p.bytes)
        else if (p.kind === 'end') s.push(null)
        else s.destroy()
      })
    }
  }

  private delay (): number {
    return this.rng.int(this.minDelay, this.maxDelay)
  }
}
