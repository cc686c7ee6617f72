import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { RespClient } from '../../lib/client/resp-client.js'
import { FILE_HEADER_SIZE, RecordReader } from '../../lib/persistence/record.js'
import { startNode, tempDir } from '../helpers/server.js'

// FORMAT.md §Durability, --fsync always: a write is acknowledged only once an
// fdatasync that began after its record was written has ended, and concurrent
// writers share fdatasyncs (group commit). The test watches every fdatasync of
// this process: the file size when it began, and when it ended.

t.test('--fsync always: every acknowledged record lies in a synced prefix of the log, and writers share fsyncs', async t => {
  const dir = tempDir(t)
  const node = await startNode(t, { dataDir: dir, fsync: 'always' })
  const real = fs.fdatasync
  let syncedSize = 0
  let syncs = 0
  fs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    const size = fs.fstatSync(fd).size // what this fdatasync covers
    syncs++
    real(fd, err => setTimeout(() => { // a slow disk: 5 ms per fdatasync
      if (err === null) syncedSize = Math.max(syncedSize, size)
      cb(err)
    }, 5))
  }) as typeof fs.fdatasync
  t.teardown(() => { fs.fdatasync = real })

  const { port } = node.address()
  const clients = await Promise.all(Array.from({ length: 20 }, async () => await RespClient.connect({ host: '127.0.0.1', port })))
  t.teardown(() => { for (const c of clients) c.close() })
  const ackedWithin = new Map<string, number>() // key -> synced size when its OK arrived
  await Promise.all(clients.map(async (c, i) => {
    for (let n = 0; n < 25; n++) {
      const key = `c${i}:${n}`
      const reply = await c.call(['SET', key, 'v'])
      if (reply !== 'OK') throw new Error(`SET ${key}: ${String(reply)}`)
      ackedWithin.set(key, syncedSize)
    }
  }))
  fs.fdatasync = real

  const log = fs.readdirSync(dir).find(f => f.startsWith('log-')) as string
  const bytes = fs.readFileSync(path.join(dir, log))
  const reader = new RecordReader()
  const endOf = new Map<string, number>()
  for (let at = FILE_HEADER_SIZE; at < bytes.length;) {
    const next = reader.read(bytes, at, bytes.length)
    if (next < 0) throw new Error(`record at ${at}: ${reader.why}`)
    endOf.set(reader.out.key, next)
    at = next
  }
  const early = [...ackedWithin].filter(([key, synced]) => (endOf.get(key) ?? Infinity) > synced)
  t.same(early.slice(0, 3), [], `each of ${ackedWithin.size} acknowledged records was fsynced before its OK`)
  t.ok(syncs < ackedWithin.size / 4, `${syncs} fdatasyncs for ${ackedWithin.size} writes from 20 clients: shared`)
})
