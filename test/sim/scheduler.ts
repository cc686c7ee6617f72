// Simulated time for the whole cluster: one queue of events in time order.
// Every event belongs to an owner (a node incarnation, a link, the workload):
// a dead owner's events are dropped, a paused owner's wait until it resumes.
// Between two events the real event loop gets a turn (setImmediate), so the
// streams' own callbacks run, and nothing else does: no real I/O or timer
// feeds the simulation, so a seed replays exactly.

import type { ConnectOptions } from '../../lib/client/resp-client.js'
import type { Cancel, PeerClient, Runtime } from '../../lib/cluster/runtime.js'
import type { Random } from './random.js'

/** Who an event belongs to. */
export class Owner {
  alive = true
  /** While set, this owner's events wait (a paused process). */
  paused = false
  readonly deferred: Array<() => void> = []

  constructor (readonly name: string) {}
}

interface Event {
  at: number
  seq: number
  owner: Owner
  fn: () => void
  cancelled: boolean
}

/** A real turn of the event loop: stream callbacks (process.nextTick, promises) run. */
export function realTurn (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

export class Scheduler {
  now: number
  private seq = 0
  private queue: Event[] = []
  /** Event callbacks that threw: a bug in the code under test, reported as a failure. */
  readonly errors: string[] = []

  constructor (start: number) {
    this.now = start
  }

  at (time: number, owner: Owner, fn: () => void): Cancel {
    // Whole milliseconds, as Date.now gives (a jittered delay can be fractional).
    const event: Event = { at: Math.ceil(Math.max(time, this.now)), seq: this.seq++, owner, fn, cancelled: false }
    this.insert(event)
    return () => { event.cancelled = true }
  }

  after (ms: number, owner: Owner, fn: () => void): Cancel {
    return this.at(this.now + Math.max(0, ms), owner, fn)
  }

  /** Runs events in time order up to `until` (sim ms), or until `stop()` holds (checked between events). */
  async runUntil (until: number, stop: () => boolean = () => false): Promise<void> {
    await realTurn()
    for (;;) {
      if (stop()) return
      const next = this.queue[0]
      if (next === undefined || next.at > until) break
      this.queue.shift()
      if (next.cancelled || !next.owner.alive) continue
      this.now = next.at
      if (next.owner.paused) {
        next.owner.deferred.push(next.fn)
        continue
      }
      try {
        next.fn()
      } catch (err) {
        this.errors.push(`${next.owner.name}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
      }
      await realTurn()
    }
    this.now = Math.max(this.now, Math.ceil(until))
  }

  /** Runs `ms` of simulated time. */
  async run (ms: number, stop?: () => boolean): Promise<void> {
    await this.runUntil(this.now + ms, stop)
  }

  pause (owner: Owner): void {
    owner.paused = true
  }

  /** The owner's waiting events run now, in their order. */
  resume (owner: Owner): void {
    owner.paused = false
    for (const fn of owner.deferred.splice(0)) this.after(0, owner, fn)
  }

  private insert (event: Event): void {
    // Binary search: events at the same time keep their order of scheduling.
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const m = this.queue[mid] as Event
      if (m.at < event.at || (m.at === event.at && m.seq < event.seq)) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, event)
  }
}

/** A node's view of the simulation: its own clock (skewed), its owner's timers, the simulated network. */
export function nodeRuntime (sched: Scheduler, owner: Owner, rng: Random, skewMs: () => number, dial: (options: ConnectOptions) => Promise<PeerClient>): Runtime {
  return {
    now: () => sched.now + skewMs(),
    random: () => rng.float(),
    setTimeout: (fn, ms) => sched.after(ms, owner, fn),
    setInterval (fn, ms) {
      let cancel: Cancel = () => {}
      let stopped = false
      const every = Math.max(1, ms)
      const tick = (): void => {
        if (stopped) return
        cancel = sched.after(every, owner, tick)
        fn()
      }
      cancel = sched.after(every, owner, tick)
      return () => {
        stopped = true
        cancel()
      }
    },
    setImmediate: fn => { sched.after(0, owner, fn) },
    dial
  }
}
