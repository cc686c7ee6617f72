// Checks for convergence tests: writers with unique keys that remember what
// was acknowledged, and waits for every node to hold the same data.

import type { KeystoneNode } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { holdFor, waitFor, type Teardown } from './server.js'

/** The assertions the checks below use (a tap test). */
export interface Checks extends Teardown {
  ok: (value: unknown, message: string) => unknown
  same: (found: unknown, wanted: unknown, message: string) => unknown
}

/** Every live key and its value at an in-process node. */
export function liveData (node: KeystoneNode): Map<string, string> {
  const out = new Map<string, string>()
  for (const key of node.store.keys('*')) {
    const v = node.store.get(key)?.value
    if (v !== undefined && v !== null) out.set(key, v.toString('latin1'))
  }
  return out
}

/** Whether every node has the same root digest. */
export function digestsEqual (nodes: readonly KeystoneNode[]): boolean {
  const roots = new Set(nodes.map(n => n.store.digest.rootHex()))
  return roots.size === 1
}

/** Waits until every node has the same root digest; returns how long it took, ms. */
export async function waitDigestsEqual (nodes: readonly KeystoneNode[], timeoutMs: number): Promise<number> {
  const started = Date.now()
  await waitFor(() => digestsEqual(nodes), timeoutMs, `equal digests (${nodes.map(n => n.store.digest.rootHex()).join(' ')})`)
  return Date.now() - started
}

/** Where the anti-entropy rounds on some links stood: see roundMark and waitRounds. */
export interface RoundMark {
  readonly links: ReadonlyArray<{ readonly from: KeystoneNode, readonly to: string, readonly rounds: number }>
}

/**
 * The anti-entropy rounds run so far on the links between `nodes` and `peers`
 * (default: among `nodes`), at either end, to wait for more with waitRounds.
 */
export function roundMark (nodes: readonly KeystoneNode[], peers: readonly KeystoneNode[] = nodes): RoundMark {
  const links: Array<RoundMark['links'][number]> = []
  const seen = new Set<string>()
  const add = (from: KeystoneNode, peer: KeystoneNode): void => {
    const to = peer.cluster.advertise
    const key = `${from.cluster.advertise}>${to}`
    if (from === peer || seen.has(key)) return
    seen.add(key)
    const member = from.cluster.members.get(to)
    links.push({ from, to, rounds: member === undefined ? 0 : from.cluster.convergence.peer(member).sync.rounds })
  }
  for (const x of nodes) {
    for (const y of peers) {
      add(x, y)
      add(y, x)
    }
  }
  return { links }
}

/**
 * Waits until every link of `mark` has had `count` whole anti-entropy rounds
 * (PROTOCOL.md §Anti-entropy) begun and finished since the mark: the event that
 * proves time enough went by for what a round would carry, where a test checks
 * that something did not come back or that nothing more travels.
 */
export async function waitRounds (mark: RoundMark, count: number, timeoutMs: number): Promise<void> {
  // A round counts when it begins; one may be running at the mark. The count+1 begun
  // since, with none running now, are count whole rounds after the mark.
  await waitFor(() => mark.links.every(({ from, to, rounds }) => {
    const member = from.cluster.members.get(to)
    if (member === undefined) return false
    const peer = from.cluster.convergence.peer(member)
    return peer.sync.rounds >= rounds + count + 1 && !peer.rounding
  }), timeoutMs, `${count} anti-entropy rounds on ${mark.links.length} links`)
}

/** Differences between two nodes' live data, for a readable failure. */
export function dataDiff (a: Map<string, string>, b: Map<string, string>, max = 5): string[] {
  const out: string[] = []
  for (const [k, v] of a) if (b.get(k) !== v && out.length < max) out.push(`${k}: ${v} vs ${String(b.get(k))}`)
  for (const [k, v] of b) if (!a.has(k) && out.length < max) out.push(`${k}: missing vs ${v}`)
  return out
}

/**
 * A client that writes unique keys `<prefix>:<n>` to one node, one at a time,
 * and deletes some of its own earlier keys. `acked` holds what each key must
 * be once every node converged (null: deleted); a key whose reply never came
 * (the node went away) is `uncertain` and not checked.
 */
export class UniqueWriter {
  readonly acked = new Map<string, string | null>()
  readonly uncertain = new Set<string>()
  errors = 0
  private n = 0
  private stopped = false
  private running: Promise<void> | null = null

  constructor (readonly prefix: string, private readonly client: RespClient, private readonly pauseMs = 2, private readonly deleteEvery = 5) {}

  static async connect (t: Teardown, node: KeystoneNode | { host: string, port: number }, prefix: string, pauseMs?: number): Promise<UniqueWriter> {
    const address = 'address' in node ? node.address() : node
    const client = await RespClient.connect({ ...address, connectTimeoutMs: 2000 })
    t.teardown(() => client.close())
    return new UniqueWriter(prefix, client, pauseMs)
  }

  start (): void {
    this.running ??= this.loop()
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.running
  }

  private async loop (): Promise<void> {
    while (!this.stopped) {
      const i = this.n++
      const key = `${this.prefix}:${i}`
      const value = `v${i}`
      if (!await this.call(key, ['SET', key, value], value)) return
      // Delete an earlier key of ours now and then: a delete must not be undone either.
      if (i % this.deleteEvery === this.deleteEvery - 1) {
        const old = `${this.prefix}:${i - 2}`
        if (this.acked.has(old) && !await this.call(old, ['DEL', old], null)) return
      }
      await holdFor(this.pauseMs, 'pacing: the writer writes at a rate')
    }
  }

  /** One write; false once the connection is gone (the key is then uncertain). */
  private async call (key: string, args: string[], outcome: string | null): Promise<boolean> {
    try {
      const reply = await this.client.call(args)
      if (reply instanceof RespError) {
        this.errors++
        this.uncertain.add(key)
        this.acked.delete(key)
      } else {
        this.acked.set(key, outcome)
      }
      return true
    } catch {
      this.uncertain.add(key)
      this.acked.delete(key)
      return false
    }
  }
}

/** Waits until each writer has `count` more acknowledged writes than `from` says it had (by index; none: 0). */
export async function moreWrites (writers: readonly UniqueWriter[], from: readonly number[], count: number, what: string): Promise<void> {
  await waitFor(() => writers.every((w, i) => w.acked.size >= (from[i] ?? 0) + count), 5000, what)
}

/** The acknowledged writes that `node` does not reflect, as readable lines (at most `max`). */
export function missing (node: KeystoneNode, writers: readonly UniqueWriter[], max = 5): string[] {
  const out: string[] = []
  for (const w of writers) {
    for (const [key, want] of w.acked) {
      const got = node.store.get(key)?.value?.toString('latin1') ?? null
      if (got !== want && out.length < max) out.push(`${key}: want ${String(want)}, got ${String(got)}`)
    }
  }
  return out
}

export function ackedCount (writers: readonly UniqueWriter[]): number {
  let n = 0
  for (const w of writers) n += w.acked.size
  return n
}
