import { RespClient, TlsVerifyError, type ConnectOptions } from '../client/resp-client.js'
import type { RespValue } from '../protocol/reply-parser.js'

// What the cluster code takes from its surroundings: time, timers, randomness
// and the dialling of peers. The node hands in the real ones; a test or a
// simulator hands in its own, so cluster logic can run on simulated time and
// links, replayable from a seed. No module of lib/cluster reaches for
// Date.now, setTimeout, Math.random or net itself.

export { TlsVerifyError }
/** How peers are dialled over TLS (PROTOCOL.md §TLS); undefined: plain TCP. */
export type DialTls = ConnectOptions['tls']

/** Stops a timer; calling it again does nothing. */
export type Cancel = () => void

/** A connection to a peer, as the cluster uses it (RespClient is one). */
export interface PeerClient {
  call: (args: ReadonlyArray<Buffer | string>) => Promise<RespValue>
  send: (bytes: string | Buffer) => Promise<RespValue>
  sendMany: (bytes: string | Buffer, count: number) => Promise<RespValue[]>
  /** How long the peer has kept us waiting, ms (0 when nothing is outstanding). */
  stalledMs: () => number
  close: () => void
  onClose: ((err: Error) => void) | null
}

export interface Runtime {
  /** Milliseconds since the epoch. */
  now: () => number
  /** In [0, 1). */
  random: () => number
  /** Timers never keep the process alive. */
  setTimeout: (fn: () => void, ms: number) => Cancel
  setInterval: (fn: () => void, ms: number) => Cancel
  /** Runs `fn` after the I/O of this turn of the event loop. */
  setImmediate: (fn: () => void) => void
  /** Connects to a peer (or the node a joiner was pointed at). */
  dial: (options: ConnectOptions) => Promise<PeerClient>
}

/** The real clock, timers and TCP. */
export const realRuntime: Runtime = {
  now: Date.now,
  random: Math.random,
  setTimeout (fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return () => clearTimeout(timer)
  },
  setInterval (fn, ms) {
    const timer = setInterval(fn, ms)
    timer.unref()
    return () => clearInterval(timer)
  },
  setImmediate (fn) {
    setImmediate(fn)
  },
  dial: options => RespClient.connect(options)
}

/** Resolves after `ms` of the runtime's time. */
export function sleep (runtime: Runtime, ms: number): Promise<void> {
  return new Promise(resolve => { runtime.setTimeout(resolve, ms) })
}

/** Resolves after this turn's I/O (a chance for clients to be served). */
export function nextTurn (runtime: Runtime): Promise<void> {
  return new Promise(resolve => runtime.setImmediate(resolve))
}
