import t from 'tap'
import fs from 'node:fs'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode, tempDir, waitFor } from '../helpers/server.js'

// PROTOCOL.md §Order of checks, FORMAT.md §Durability: a write the log cannot
// keep (a full disk, an I/O error) is answered with MISCONF, never OK; writes
// are refused while it lasts, and accepted again once the log can be written.
// The disk is made to fail by stubbing the fs calls of this process.

type Test = tap.Test

/** Makes fs.writeSync (or fs.fdatasync) fail with `code` until the returned function is called. */
function failing (t: Test, which: 'writeSync' | 'fdatasync', code: string): () => void {
  const real = { writeSync: fs.writeSync, fdatasync: fs.fdatasync }
  const err = Object.assign(new Error(`${code}: injected by the test`), { code })
  const restore = (): void => {
    fs.writeSync = real.writeSync
    fs.fdatasync = real.fdatasync
  }
  t.teardown(restore)
  if (which === 'writeSync') {
    fs.writeSync = (() => { throw err }) as typeof fs.writeSync
  } else {
    fs.fdatasync = ((_fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => { process.nextTick(cb, err) }) as typeof fs.fdatasync
  }
  return restore
}

async function expectMisconf (t: Test, reply: Promise<unknown>, what: string): Promise<void> {
  const r = await reply
  t.ok(r instanceof RespError && r.message.startsWith('MISCONF Errors writing to the log: ENOSPC'), `${what}: ${String(r)}`)
}

t.test('--fsync everysec: a failed write(2) gets MISCONF, later writes are refused, and all is well once the disk is', async t => {
  const dir = tempDir(t)
  const node = await startNode(t, { dataDir: dir })
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'before', '1'), 'OK')
  const restore = failing(t, 'writeSync', 'ENOSPC')
  await expectMisconf(t, call('SET', 'during', '2'), 'the write whose record failed')
  await expectMisconf(t, call('SET', 'refused', '3'), 'a write while the log fails')
  await expectMisconf(t, call('DEL', 'before'), 'a delete too')
  t.equal(await call('GET', 'before'), '1', 'reads still work; the refused delete did nothing')
  t.match(await call('INFO', 'persistence'), 'aof_last_write_status:err')
  restore()
  await waitFor(async () => await call('SET', 'after', '4') === 'OK', 5000, 'writes to be accepted again')
  t.match(await call('INFO', 'persistence'), 'aof_last_write_status:ok')
  await node.close()
  const again = await startNode(t, { dataDir: dir })
  const call2 = caller(await connect(t, again))
  t.same(await call2('MGET', 'before', 'refused', 'after'), ['1', null, '4'], 'what was acknowledged is on disk; what was refused never happened')
})

t.test('--fsync always: a failed fdatasync gets MISCONF, never OK', async t => {
  const node = await startNode(t, { dataDir: tempDir(t), fsync: 'always' })
  const call = caller(await connect(t, node))
  t.equal(await call('SET', 'before', '1'), 'OK')
  const restore = failing(t, 'fdatasync', 'ENOSPC')
  await expectMisconf(t, call('SET', 'during', '2'), 'the write whose fsync failed')
  await expectMisconf(t, call('SET', 'refused', '3'), 'a write while fsync fails')
  restore()
  await waitFor(async () => await call('SET', 'after', '4') === 'OK', 5000, 'writes to be accepted again')
})

t.test('a node whose log fails refuses replicated writes too', async t => {
  const node = await startNode(t, { dataDir: tempDir(t) })
  const call = caller(await connect(t, node))
  await call('SET', 'x', '1')
  const restore = failing(t, 'writeSync', 'ENOSPC')
  await expectMisconf(t, call('SET', 'x', '2'), 'the failing write')
  // REPL and MREPL come on peer links, which introduce themselves with GOSSIP.
  const peer = caller(await connect(t, node))
  t.equal(Array.isArray(await peer('GOSSIP', '127.0.0.1:1', 'peer', 'up')), true, 'a peer link')
  await expectMisconf(t, peer('REPL', 'k', '1', '0', 'peer', '0', 'v'), 'REPL')
  await expectMisconf(t, peer('MREPL', 'peer', 'S', 'k', '1', '0', '0', 'v'), 'MREPL')
  restore()
})
