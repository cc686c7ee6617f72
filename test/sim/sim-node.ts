// One simulated node: an address, a data directory in memory, and the
// KeystoneNode of its current incarnation (the real store, cluster and server
// code), on a runtime of its own (its clock's skew, its owner's timers).

import { KeystoneNode, type NodeOptions } from '../../lib/index.js'
import { createLogger, type Logger } from '../../lib/log.js'
import type { NodeData } from '../../lib/persistence/persistence.js'
import type { Entry } from '../../lib/store/entry.js'
import { MemoryDisk } from './disk.js'
import type { SimNetwork } from './network.js'
import type { Random } from './random.js'
import { nodeRuntime, Owner, type Scheduler } from './scheduler.js'

export interface SimWorld {
  readonly sched: Scheduler
  readonly net: SimNetwork
  readonly rng: Random
  /** Appends a line to the schedule's history. */
  note: (line: string) => void
  readonly options: Partial<NodeOptions>
}

export class SimNode {
  disk: MemoryDisk
  node: KeystoneNode | null = null
  owner: Owner
  data: NodeData | null = null
  /** Its clock runs this far ahead (negative: behind) of simulated time, ms. */
  skewMs = 0
  incarnation = 0
  private stopSync: (() => void) | null = null

  constructor (readonly addr: string, private readonly world: SimWorld) {
    this.disk = new MemoryDisk(world.rng.hexId())
    this.owner = new Owner(addr)
  }

  get alive (): boolean {
    return this.node !== null && this.owner.alive
  }

  /** Starts an incarnation on the disk it has, joining `join` if given. */
  async start (join?: string): Promise<void> {
    const { sched, net, rng } = this.world
    this.incarnation++
    const owner = new Owner(`${this.addr}/${this.incarnation}`)
    this.owner = owner
    const runtime = nodeRuntime(sched, owner, rng, () => this.skewMs, options => net.dial(this.addr, owner, options, runtime.now))
    this.data = this.disk.open()
    const node = new KeystoneNode({ host: '127.0.0.1', port: 0, fsync: 'everysec', ...this.world.options, join, dataDir: 'sim' }, {
      runtime, data: this.data, nodeId: this.disk.nodeId, log: this.logger()
    })
    this.node = node
    net.listen(this.addr, { owner, accept: (stream, remote) => node.server.handle(stream, remote) })
    const disk = this.disk
    const sync = (): void => {
      disk.sync()
      this.stopSync = sched.after(1000, owner, sync)
    }
    this.stopSync = sched.after(1000, owner, sync)
    // start() may wait on the simulated network (JOIN): the caller runs the scheduler meanwhile.
    await node.startDetached(this.addr)
  }

  /**
   * The process dies. `kill`: what it wrote is on disk. `power`: only what was
   * synced. `wipe`: the disk is lost (the node comes back empty, a new member).
   * Returns the records lost with it.
   */
  crash (mode: 'kill' | 'power' | 'wipe'): Array<{ key: string, entry: Entry }> {
    const node = this.node
    if (node === null) return []
    this.owner.alive = false
    this.stopSync?.()
    void this.data?.close()
    this.world.net.closeAll(this.owner)
    this.node = null
    const lost = mode === 'power' ? this.disk.losePowerTail() : mode === 'wipe' ? this.disk.records : []
    if (mode === 'wipe') this.disk = new MemoryDisk(this.world.rng.hexId())
    return lost
  }

  pause (): void {
    this.world.sched.pause(this.owner)
  }

  resume (): void {
    this.world.sched.resume(this.owner)
  }

  private logger (): Logger {
    const note = this.world.note
    const addr = this.addr
    return createLogger('info', line => {
      // Warnings are part of the history: removals, refusals, faults seen.
      if (line.includes(' warn ') || line.includes(' error ')) note(`${addr} ${line.slice(25, 240).trim()}`)
    })
  }
}
