import t from 'tap'
import type { RespClient } from '../../lib/client/resp-client.js'
import { clientOf, kill9, missingKeys, startOn } from '../helpers/durable.js'
import { freePort, tempDir, waitFor } from '../helpers/server.js'

// CONTRACT G3/G4 and §Programs: a node killed with -9 and restarted on its data
// directory is the same member, rejoins the cluster it knew without --join, and
// picks up the writes it missed while it was down.

async function setMany (client: RespClient, prefix: string, n: number): Promise<Map<string, string>> {
  const written = new Map<string, string>()
  const replies: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) {
    written.set(`${prefix}${i}`, `${prefix}value-${i}`)
    replies.push(client.call(['SET', `${prefix}${i}`, `${prefix}value-${i}`]))
  }
  for (const r of await Promise.all(replies)) if (r !== 'OK') throw new Error(`SET: ${String(r)}`)
  return written
}

async function members (client: RespClient): Promise<string[]> {
  const reply = await client.call(['MEMBERS'])
  return Array.isArray(reply) ? reply.map(String).sort() : []
}

t.test('a node killed with -9 comes back as the same member, without --join, and catches up', async t => {
  const a = await startOn(t, tempDir(t))
  const bPort = await freePort()
  const bDir = tempDir(t)
  const b = await startOn(t, bDir, ['--port', String(bPort), '--join', `${a.host}:${a.port}`])
  const ca = await clientOf(t, a)
  await waitFor(async () => (await members(ca)).every(m => / up( |$)/.test(m)) && (await members(ca)).length === 2, 5000, 'A to see B up')
  const first = await setMany(ca, 'one:', 500)
  const bId = /node (\S+) listening on/.exec(b.stderr)?.[1]

  await kill9(b)
  const missed = await setMany(ca, 'two:', 500)
  await ca.call(['DEL', 'one:0']) // a delete B must learn of too
  first.delete('one:0')

  const b2 = await startOn(t, bDir, ['--port', String(bPort)]) // no --join: it remembers A
  t.equal(/node (\S+) listening on/.exec(b2.stderr)?.[1], bId, 'the same node id')
  const cb = await clientOf(t, b2)
  const all = new Map([...first, ...missed])
  await waitFor(async () => (await missingKeys(cb, all, 1)).length === 0, 5000, 'B to have every write, old and missed')
  t.same(await missingKeys(cb, all), [], 'B has what it had and what it missed')
  await waitFor(async () => await cb.call(['EXISTS', 'one:0']) === 0, 5000, 'the delete made while B was down')
  t.equal(await cb.call(['DBSIZE']), all.size, 'and nothing else')
  await waitFor(async () => (await members(ca)).filter(m => / up( |$)/.test(m)).length === 2, 5000, 'A to see B up again')
  t.equal(await cb.call(['SET', 'from-b', 'x']), 'OK', 'B takes writes')
  await waitFor(async () => String(await ca.call(['GET', 'from-b'])) === 'x', 5000, 'and A gets them')
})
