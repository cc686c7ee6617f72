import t from 'tap'
import type { HashState } from '../../lib/store/hash.js'
import type { Entry } from '../../lib/store/entry.js'
import { BAD, checkFileHeader, encodeEnd, encodeRecord, END_RECORD_SIZE, fileHeader, KIND_END, KIND_HASH, KIND_TOMBSTONE, KIND_VALUE, RecordReader, recordSize, SHORT } from '../../lib/persistence/record.js'
import { hashBytes } from '../../lib/store/hash-codec.js'
import { HybridClock } from '../../lib/store/clock.js'
import { Store } from '../../lib/store/store.js'

// FORMAT.md §Records: what is written reads back the same; a record cut short
// asks for more bytes; any damaged byte is caught by the length or the checksum.

const entries: Array<[string, Entry]> = [
  ['k', { value: Buffer.from('v'), expiresAt: 0, wall: 1764133000000, logical: 0, node: 'a'.repeat(40) }],
  ['bin\x00\r\n\xff', { value: Buffer.from([0, 13, 10, 255, 1]), expiresAt: 1764133999999, wall: 1764133000001, logical: 7, node: 'node-b' }],
  ['gone', { value: null, expiresAt: 0, wall: 1764133000002, logical: 4294967295, node: 'n' }],
  ['', { value: Buffer.alloc(0), expiresAt: Number.MAX_SAFE_INTEGER, wall: 1, logical: 1, node: '' }],
  ['big', { value: Buffer.alloc(300_000, 7), expiresAt: 0, wall: 2, logical: 0, node: 'x' }]
]

function encodeAll (): Buffer {
  const size = entries.reduce((n, [k, e]) => n + recordSize(k, e), 0) + END_RECORD_SIZE
  const buf = Buffer.alloc(size)
  let at = 0
  for (const [k, e] of entries) at = encodeRecord(buf, at, k, e)
  at = encodeEnd(buf, at, entries.length)
  t.equal(at, size, 'recordSize is exact')
  return buf
}

t.test('records read back as written', async t => {
  const buf = encodeAll()
  const reader = new RecordReader()
  let at = 0
  for (const [key, entry] of entries) {
    const next = reader.read(buf, at, buf.length)
    t.ok(next > at, 'read')
    if (next < 0) return
    const out = reader.out
    t.equal(out.kind, entry.value === null ? KIND_TOMBSTONE : KIND_VALUE)
    t.equal(out.key, key)
    t.same({ ...out.entry, value: out.entry.value === null ? null : Buffer.from(out.entry.value) }, entry, `${JSON.stringify(key)} round-trips`)
    at = next
  }
  t.equal(reader.read(buf, at, buf.length), buf.length, 'the end record')
  t.equal(reader.out.kind, KIND_END)
  t.equal(reader.out.count, entries.length)
})

t.test('a record cut short at any byte asks for more', async t => {
  const [key, entry] = entries[1] as [string, Entry]
  const buf = Buffer.alloc(recordSize(key, entry))
  encodeRecord(buf, 0, key, entry)
  const reader = new RecordReader()
  for (let end = 0; end < buf.length; end++) {
    const r = reader.read(buf, 0, end)
    if (r !== SHORT) t.fail(`cut at ${end}: ${r}`)
  }
  t.pass('every cut is short')
})

t.test('any damaged byte is caught', async t => {
  const [key, entry] = entries[1] as [string, Entry]
  const good = Buffer.alloc(recordSize(key, entry))
  encodeRecord(good, 0, key, entry)
  const reader = new RecordReader()
  let caught = 0
  for (let i = 0; i < good.length; i++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const buf = Buffer.from(good)
      buf[i] = (buf[i] as number) ^ flip
      const r = reader.read(buf, 0, buf.length)
      if (r !== BAD && r !== SHORT) t.fail(`byte ${i} ^ ${flip} read as a good record`)
      else caught++
    }
  }
  t.equal(caught, good.length * 3, 'every flip of every byte')
})

t.test('file headers', async t => {
  t.equal(checkFileHeader(fileHeader('LOG '), 'LOG '), null)
  t.equal(checkFileHeader(fileHeader('SNAP'), 'SNAP'), null)
  t.equal(checkFileHeader(fileHeader('SNAP'), 'LOG '), 'not a log file')
  t.equal(checkFileHeader(Buffer.from('GIF89a..........'), 'LOG '), 'not a Keystone data file (bad magic)')
  const v1 = fileHeader('LOG ')
  v1.writeUInt32LE(1, 12)
  t.equal(checkFileHeader(v1, 'LOG '), null, 'version 1 (before counters) still loads')
  const v2 = fileHeader('LOG ')
  v2.writeUInt32LE(2, 12)
  t.equal(checkFileHeader(v2, 'LOG '), null, 'version 2 (before hashes) still loads')
  const v3 = fileHeader('LOG ')
  v3.writeUInt32LE(3, 12)
  t.equal(checkFileHeader(v3, 'LOG '), null, 'version 3 (before sets) still loads')
  const v5 = fileHeader('LOG ')
  v5.writeUInt32LE(5, 12)
  t.equal(checkFileHeader(v5, 'LOG '), 'format version 5; this Keystone reads versions 1 to 4')
  t.equal(checkFileHeader(Buffer.alloc(3), 'LOG '), 'the file header is incomplete')
})

/** A store whose every write is encoded as the log would, each record checked against recordSize. */
function recording (t: { equal: (found: unknown, wanted: unknown, message: string) => unknown }): { store: Store, records: Buffer[] } {
  const store = new Store({ nodeId: 'node-a', clock: new HybridClock({ now: () => 1764133000000 }) })
  const records: Buffer[] = []
  store.onWrite((key, entry, _local, fields) => {
    const buf = Buffer.alloc(recordSize(key, entry, fields))
    t.equal(encodeRecord(buf, 0, key, entry, fields), buf.length, 'recordSize is exact')
    records.push(buf)
  })
  return { store, records }
}

t.test('hash records (format 3): a write\'s record holds the fields it changed; reading it back gives those fields', async t => {
  const { store, records } = recording(t)
  const pairs: Array<[string, Buffer]> = []
  for (let i = 0; i < 1000; i++) pairs.push([`f${i}`, Buffer.from(`value ${i}`)])
  store.hset('h', pairs)
  store.hset('h', [['f7', Buffer.from('changed')]])
  store.hdel('h', ['f8'])
  t.ok((records[1] as Buffer).length < 120, `one field's record is ${(records[1] as Buffer).length} bytes, not the hash's ${(records[0] as Buffer).length}`)
  const reader = new RecordReader()
  const replay = new Store({ nodeId: 'node-b', clock: new HybridClock({ now: () => 1764133000000 }) })
  for (const r of records) {
    t.equal(reader.read(r, 0, r.length), r.length)
    t.equal(reader.out.kind, KIND_HASH)
    replay.restore(reader.out.key, reader.out.entry, false)
  }
  const whole = store.peek('h')?.hash
  const again = replay.peek('h')?.hash
  t.ok(whole !== undefined && again !== undefined)
  if (whole === undefined || again === undefined) return
  t.equal(hashBytes(again).toString('hex'), hashBytes(whole).toString('hex'), 'the replayed hash is the hash')
  t.equal(replay.digest.rootHex(), store.digest.rootHex())
  const damaged = Buffer.from(records[1] as Buffer)
  damaged.writeUInt8((damaged.at(-1) as number) ^ 0xff, damaged.length - 1)
  t.equal(reader.read(damaged, 0, damaged.length), BAD)
})

t.test('set records (format 4): an SADD\'s and an SREM\'s records hold the members they changed; replayed, the set and its digest again', async t => {
  const { store, records } = recording(t)
  const members: string[] = []
  for (let i = 0; i < 1000; i++) members.push(`member ${i}`)
  store.sadd('s', members)
  store.sadd('s', ['one more'])
  store.hdel('s', ['member 8'])
  t.ok((records[1] as Buffer).length < 160, `one member's record is ${(records[1] as Buffer).length} bytes, not the set's ${(records[0] as Buffer).length}`)
  const reader = new RecordReader()
  const replay = new Store({ nodeId: 'node-b', clock: new HybridClock({ now: () => 1764133000000 }) })
  for (const r of records) {
    t.equal(reader.read(r, 0, r.length), r.length)
    replay.restore(reader.out.key, reader.out.entry, false)
  }
  t.equal(replay.get('s')?.hash?.set, true, 'a set again')
  t.equal(replay.get('s')?.hash?.live, 1000)
  t.equal(hashBytes(replay.peek('s')?.hash as HashState).toString('hex'), hashBytes(store.peek('s')?.hash as HashState).toString('hex'), 'the replayed set is the set')
  t.equal(replay.digest.rootHex(), store.digest.rootHex())
})
