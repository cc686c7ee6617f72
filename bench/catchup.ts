import { RespClient } from '../lib/client/resp-client.js'
import { NodeProxy } from '../test/helpers/fault.js'
import { prefill } from './load.js'
import { startKeystone, type BenchServer } from './servers.js'

// `npm run bench -- --catchup`: CONTRACT G4 in numbers. Node A holds N keys
// (default 1,000,000; 100-byte values). Node C joins empty: a full resync,
// timed until C's root digest equals A's. Then C is cut off (a TCP proxy in
// front of each node holds its traffic), A takes writes of 1% of N new keys,
// and the cut heals: the catch-up is timed the same way, from the heal. Bytes
// are the sync counters of INFO replication at both nodes (digests, entries,
// MREPL), so both directions count.

const VALUE_SIZE = 100

interface SyncCounters { bytes: number, keys: number }

async function call (client: RespClient, args: string[]): Promise<string> {
  const reply = await client.call(args)
  if (Buffer.isBuffer(reply)) return reply.toString('latin1')
  if (typeof reply === 'string' || typeof reply === 'number') return String(reply)
  throw new Error(`${args[0] ?? ''}: unexpected reply ${String(reply)}`)
}

async function counters (client: RespClient): Promise<SyncCounters> {
  const info = await call(client, ['INFO', 'replication'])
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  return {
    bytes: field('sync_bytes_sent') + field('sync_bytes_received'),
    keys: field('sync_keys_sent') + field('sync_keys_received')
  }
}

async function waitEqualRoots (a: RespClient, c: RespClient, timeoutMs: number): Promise<number> {
  const started = Date.now()
  for (;;) {
    const [ra, rc] = await Promise.all([call(a, ['DIGEST']), call(c, ['DIGEST'])])
    if (ra === rc) return Date.now() - started
    if (Date.now() - started > timeoutMs) throw new Error(`roots still differ after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

async function waitMembers (client: RespClient, want: (lines: string[]) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const reply = await client.call(['MEMBERS'])
    const lines = Array.isArray(reply) ? reply.map(String) : []
    if (want(lines)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lines)}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Starts a node on `host` behind a proxy there; the node advertises the proxy. */
async function behindProxy (host: string, join: string | null): Promise<{ server: BenchServer, proxy: NodeProxy }> {
  const proxy = new NodeProxy(host)
  await proxy.listen()
  const server = await startKeystone([], ['--host', host, '--advertise', proxy.addr, ...(join === null ? [] : ['--join', join])])
  proxy.target = { host: server.host, port: server.port }
  return { server, proxy }
}

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`

export async function runCatchup (keys: number): Promise<string> {
  const missed = Math.max(1, Math.round(keys / 100))
  const started: Array<{ server: BenchServer, proxy: NodeProxy }> = []
  try {
    const a = await behindProxy('127.0.0.2', null)
    started.push(a)
    process.stderr.write(`node A on ${a.server.host}:${a.server.port}: filling ${keys} keys\n`)
    await prefill(a.server.host, a.server.port, keys, VALUE_SIZE)
    const atA = await RespClient.connect({ host: a.server.host, port: a.server.port })

    process.stderr.write('node C joins empty: full resync\n')
    const joinStarted = Date.now()
    const c = await behindProxy('127.0.0.3', a.proxy.addr)
    started.push(c)
    const atC = await RespClient.connect({ host: c.server.host, port: c.server.port })
    await waitEqualRoots(atA, atC, 300_000)
    const fullMs = Date.now() - joinStarted
    const full = await counters(atA)
    const fullC = await counters(atC)
    await waitMembers(atA, lines => lines.length === 2 && lines.every(l => l.split(' ')[1] === 'up'), 'both nodes up')

    process.stderr.write(`cutting C off; A takes ${missed} writes\n`)
    a.proxy.hold('127.0.0.3', 'in')
    a.proxy.hold('127.0.0.3', 'out')
    c.proxy.hold('127.0.0.2', 'in')
    c.proxy.hold('127.0.0.2', 'out')
    await waitMembers(atA, lines => lines[1]?.split(' ')[1] === 'down', 'C down at A')
    for (let from = 0; from < missed; from += 1000) {
      const args = ['MSET']
      for (let i = from; i < Math.min(missed, from + 1000); i++) args.push(`missed:${i}`, 'y'.repeat(VALUE_SIZE))
      await call(atA, args)
    }
    const before = [await counters(atA), await counters(atC)]
    process.stderr.write('healing\n')
    a.proxy.heal()
    c.proxy.heal()
    const catchupMs = await waitEqualRoots(atA, atC, 60_000)
    const after = [await counters(atA), await counters(atC)]
    const catchupBytes = (after[0]?.bytes ?? 0) - (before[0]?.bytes ?? 0) + (after[1]?.bytes ?? 0) - (before[1]?.bytes ?? 0)
    const catchupKeys = (after[0]?.keys ?? 0) - (before[0]?.keys ?? 0) + (after[1]?.keys ?? 0) - (before[1]?.keys ?? 0)
    atA.close()
    atC.close()
    const fullBytes = full.bytes + fullC.bytes
    return [
      `| ${keys.toLocaleString('en-US')} keys, ${VALUE_SIZE}-byte values | time to equal digests | bytes (sync counters, both nodes) | keys moved |`,
      '|---|---:|---:|---:|',
      `| full resync (an empty node joins) | ${fullMs} ms | ${mb(fullBytes)} | ${(full.keys + fullC.keys).toLocaleString('en-US')} |`,
      `| catch-up after missing ${missed.toLocaleString('en-US')} writes (1%) | ${catchupMs} ms from the heal | ${mb(catchupBytes)} | ${catchupKeys.toLocaleString('en-US')} |`,
      '',
      `Catch-up sent ${(100 * catchupBytes / Math.max(1, fullBytes)).toFixed(1)}% of the full resync's bytes. The catch-up time includes ` +
        'noticing the link is back (redial within 0.5 s) and one anti-entropy round (root, 4096 bucket digests, leaf digests ' +
        'of the differing buckets, the entries of the differing leaves both ways).'
    ].join('\n')
  } finally {
    for (const s of started) {
      await s.proxy.close()
      await s.server.stop()
    }
  }
}
