// Helpers for the durability tests: keystone-server children on a data directory,
// kill -9, and writers that remember which writes were acknowledged.

import { RespClient } from '../../lib/client/resp-client.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { spawnServer, waitFor, type Address, type Child, type Teardown } from './server.js'

export type ServerChild = Child & Address

/** bin/keystone-server on `dataDir`, port 0 unless `args` says otherwise. */
export function startOn (t: Teardown, dataDir: string, args: string[] = [], cwd?: string): Promise<ServerChild> {
  const port = args.includes('--port') ? [] : ['--port', '0']
  return spawnServer(t, [...port, '--data-dir', dataDir, ...args], {}, cwd)
}

/** SIGKILL, and wait until the process is gone. */
export async function kill9 (child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL')
  await child.exited
}

/** A client to a child server, closed when the test ends. */
export async function clientOf (t: Teardown, server: Address): Promise<RespClient> {
  const client = await RespClient.connect({ host: server.host, port: server.port })
  t.teardown(() => client.close())
  return client
}

/**
 * `count` clients, each writing its own keys `<prefix><client>:<n>` (value
 * `v<n>-<client>`) with up to `window` writes in flight, until stop() or the
 * server goes away. `acked` holds every write that got +OK.
 */
export class Writers {
  readonly acked = new Map<string, string>()
  errors = 0
  private stopped = false
  private readonly done: Array<Promise<void>> = []

  constructor (private readonly clients: RespClient[], private readonly prefix: string, private readonly window = 8) {
    clients.forEach((c, i) => this.done.push(this.run(c, i)))
  }

  static async start (server: Address, count: number, prefix: string, window?: number): Promise<Writers> {
    const clients = await Promise.all(Array.from({ length: count }, async () => await RespClient.connect({ host: server.host, port: server.port })))
    return new Writers(clients, prefix, window)
  }

  /** Stops writing; resolves once every writer has ended. */
  async stop (): Promise<void> {
    this.stopped = true
    await Promise.all(this.done)
    for (const c of this.clients) c.close()
  }

  private async run (client: RespClient, id: number): Promise<void> {
    let n = 0
    const inFlight = new Set<Promise<void>>()
    while (!this.stopped && !client.closed) {
      const key = `${this.prefix}${id}:${n}`
      const value = `v${n}-${id}`
      n++
      const p: Promise<void> = client.call(['SET', key, value]).then(reply => {
        if (reply === 'OK') this.acked.set(key, value)
        else if (reply instanceof RespError) this.errors++
      }, () => { /* the server died: this write was not acknowledged */ }).finally(() => { inFlight.delete(p) })
      inFlight.add(p)
      if (inFlight.size >= this.window) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  }
}

/** The keys of `expected` whose value at `client` differs (or is missing), at most `limit` of them. */
export async function missingKeys (client: RespClient, expected: Map<string, string>, limit = 5): Promise<string[]> {
  const keys = [...expected.keys()]
  const bad: string[] = []
  for (let i = 0; i < keys.length && bad.length < limit; i += 1000) {
    const batch = keys.slice(i, i + 1000)
    const reply = await client.call(['MGET', ...batch])
    if (!Array.isArray(reply)) throw new Error(`MGET: ${String(reply)}`)
    batch.forEach((key, j) => {
      const got = reply[j]
      const value = Buffer.isBuffer(got) ? got.toString('latin1') : null
      if (value !== expected.get(key) && bad.length < limit) bad.push(`${key}=${String(value)} (acknowledged ${String(expected.get(key))})`)
    })
  }
  return bad
}

/** A field of INFO persistence, as text. */
export async function persistenceInfo (client: RespClient, field: string): Promise<string> {
  const info = String(await client.call(['INFO', 'persistence']))
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? ''
}

/** Waits until the node has finished `count` compactions in all. */
export async function waitCompactions (client: RespClient, count: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => Number(await persistenceInfo(client, 'aof_rewrites')) >= count, timeoutMs, `${count} compactions`)
}
