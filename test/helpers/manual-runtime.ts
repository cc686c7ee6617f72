// A Runtime whose time moves only when the test says so: timers fire in time
// order as `advance` passes them, and dialling is the test's to decide. The
// seed of the cluster simulator (DESIGN.md): the cluster code runs on it
// unchanged.

import type { ConnectOptions } from '../../lib/client/resp-client.js'
import type { Cancel, PeerClient, Runtime } from '../../lib/cluster/runtime.js'

interface Scheduled {
  at: number
  seq: number
  fn: () => void
  every: number
  cancelled: boolean
}

export class ManualRuntime implements Runtime {
  private time: number
  private seq = 0
  private queue: Scheduled[] = []
  /** Every dial, in order. */
  readonly dials: ConnectOptions[] = []
  /** What a dial does; default: the peer is unreachable. */
  onDial: (options: ConnectOptions) => Promise<PeerClient> = async options => {
    throw new Error(`connect ECONNREFUSED ${options.host}:${options.port}`)
  }

  constructor (start = 1_000_000, private readonly randomValue = 0.5) {
    this.time = start
  }

  readonly now = (): number => this.time
  readonly random = (): number => this.randomValue

  readonly setTimeout = (fn: () => void, ms: number): Cancel => this.schedule(fn, ms, 0)
  readonly setInterval = (fn: () => void, ms: number): Cancel => this.schedule(fn, ms, Math.max(1, ms))
  readonly setImmediate = (fn: () => void): void => { this.schedule(fn, 0, 0) }

  readonly dial = (options: ConnectOptions): Promise<PeerClient> => {
    this.dials.push(options)
    return this.onDial(options)
  }

  /** Moves time on by `ms`, firing every timer due on the way (promises settle between them). */
  async advance (ms: number): Promise<void> {
    const until = this.time + ms
    for (;;) {
      await settle()
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = this.queue[0]
      if (next === undefined || next.at > until) break
      this.queue.shift()
      if (next.cancelled) continue
      this.time = Math.max(this.time, next.at)
      if (next.every > 0) {
        // The same entry goes back in line, so its Cancel still reaches it.
        next.at += next.every
        next.seq = this.seq++
        this.queue.push(next)
      }
      next.fn()
    }
    this.time = until
    await settle()
  }

  private schedule (fn: () => void, ms: number, every: number): Cancel {
    const entry: Scheduled = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, every, cancelled: false }
    this.queue.push(entry)
    return () => { entry.cancelled = true }
  }
}

/** Lets pending promise callbacks run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}
