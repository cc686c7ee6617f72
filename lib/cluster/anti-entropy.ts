import { CommandError } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import { array, command, type Encoded } from '../protocol/reply.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { parseInteger } from '../protocol/request-parser.js'
import { MAX_LOGICAL } from '../store/clock.js'
import { DIGEST_BYTES, LEAVES } from '../store/digest.js'
import { compareVersions, type Entry, type Version } from '../store/entry.js'
import { BUCKETS, type Store } from '../store/store.js'
import { decodeTyped, NODE_ID, PAGE_FIELDS, pushPageFields } from './entry-codec.js'
import { HASH_VALUE } from '../store/entry.js'
import { sameField, type HashState } from '../store/hash.js'
import type { PeerLink } from './peer-link.js'
import { WriterBatches } from './sync.js'

// PROTOCOL.md §Anti-entropy. One round on a link: compare roots; if they
// differ, fetch the peer's bucket digests, then the leaf digests of the buckets
// that differ, then the peer's entries of the leaves that differ. Merge those,
// and send the peer ours of the same leaves that it lacks or holds older (MREPL).
// Both directions in one round, and what travels is about what differs.

/** The root of an empty store. */
export const EMPTY_ROOT = '0'.repeat(16)

/** Most buckets in one `DIGEST LEAVES` request, and (bucket, mask) pairs in one `ENTRIES`. */
export const MAX_LEAF_BUCKETS = BUCKETS
export const MAX_ENTRY_BUCKETS = 64

/** Counters of the syncs this node ran with one peer (INFO). */
export interface SyncStats {
  /** Link-up syncs that sent the whole state (the peer's store was empty). */
  fullSyncs: number
  /** Link-up syncs and periodic rounds that found and fixed differences. */
  incrementalSyncs: number
  /** Rounds run, differences or not. */
  rounds: number
  keysSent: number
  bytesSent: number
  keysReceived: number
  bytesReceived: number
}

export function newSyncStats (): SyncStats {
  return { fullSyncs: 0, incrementalSyncs: 0, rounds: 0, keysSent: 0, bytesSent: 0, keysReceived: 0, bytesReceived: 0 }
}

/** What a round needs of the peer it runs with. */
export interface SyncPeer {
  readonly addr: string
  readonly link: PeerLink
  /** The last root digest the peer reported ('' when none yet). */
  digest: string
  readonly sync: SyncStats
}

/** Applies an entry received from a peer (last writer wins); whether it was newer. */
export type MergeFn = (key: string, entry: Entry) => boolean

// ---- the responder's side: replies to DIGEST and ENTRIES ----

/** A bucket number argument: 0..4095. */
export function bucketArg (arg: Buffer | undefined): number {
  const n = arg === undefined || arg.length > 4 ? null : parseInteger(arg, 0, arg.length)
  if (n === null || n < 0 || n >= BUCKETS) throw new CommandError(errorText('invalidBucket'))
  return n
}

/** A leaf mask argument, 16 hex digits (leaves 63..0): [lo, hi] 32-bit halves. */
export function maskArg (arg: Buffer | undefined): [number, number] {
  const text = arg?.toString('latin1') ?? ''
  if (!/^[0-9a-fA-F]{16}$/.test(text)) throw new CommandError(errorText('invalidMask'))
  return [parseInt(text.slice(8), 16) >>> 0, parseInt(text.slice(0, 8), 16) >>> 0]
}

/** `ENTRIES b mask ...`: seven fields per entry, as a SYNC page: key wall logical node expiresAt value|nil counter|nil. */
export function entriesReply (store: Store, pairs: ReadonlyArray<[number, number, number]>): Encoded {
  const flat: Encoded[] = []
  for (const [b, lo, hi] of pairs) {
    store.forEachInLeaves(b, lo, hi, (key, e) => pushPageFields(flat, key, e))
  }
  return array(flat)
}

// ---- the initiator's side ----

function expectBuffer (reply: RespValue, what: string): Buffer {
  if (reply instanceof RespError) throw new Error(`${what}: the peer answered ${reply.message}`)
  if (!Buffer.isBuffer(reply)) throw new Error(`${what}: unexpected reply`)
  return reply
}

/** The peer's root digest (16 hex digits); remembered on the peer for MEMBERS. */
export async function probeRoot (peer: SyncPeer): Promise<string> {
  const root = expectBuffer(await peer.link.request(command(['DIGEST'])), 'DIGEST').toString('latin1')
  if (!/^[0-9a-f]{16}$/.test(root)) throw new Error('DIGEST: not a digest')
  peer.digest = root
  peer.sync.bytesReceived += root.length
  return root
}

function decimal (field: RespValue | undefined): number {
  const n = Buffer.isBuffer(field) && field.length <= 16 ? parseInteger(field, 0, field.length) : null
  if (n === null || n < 0) throw new Error('ENTRIES: a bad number in an entry')
  return n
}

function logicalDecimal (field: RespValue | undefined): number {
  const n = decimal(field)
  if (n > MAX_LOGICAL) throw new Error('ENTRIES: a logical count past 32 bits in an entry')
  return n
}

/** Decodes an ENTRIES reply into entries (values are views into the reply: the store copies them). */
function decodeEntries (reply: RespValue): Array<[string, Entry]> {
  if (reply instanceof RespError) throw new Error(`ENTRIES: the peer answered ${reply.message}`)
  if (!Array.isArray(reply) || reply.length % PAGE_FIELDS !== 0) throw new Error('ENTRIES: unexpected reply')
  const out: Array<[string, Entry]> = []
  for (let i = 0; i < reply.length; i += PAGE_FIELDS) {
    const key = reply[i]
    const node = reply[i + 3]
    let value = reply[i + 5]
    const counterBytes = reply[i + 6]
    if (!Buffer.isBuffer(key) || !Buffer.isBuffer(node) || !(value === null || Buffer.isBuffer(value)) ||
      !(counterBytes === null || Buffer.isBuffer(counterBytes))) throw new Error('ENTRIES: a bad entry')
    const id = node.toString('latin1')
    if (!NODE_ID.test(id)) throw new Error('ENTRIES: a bad node id')
    const expiresAt = decimal(reply[i + 4])
    const typed = counterBytes === null ? {} : decodeTyped(counterBytes)
    if (typeof typed === 'string') throw new Error(`ENTRIES: ${typed}`)
    const { counter, hash } = typed
    if (counter !== undefined) value = counter.base // the store works the value out again
    if (hash !== undefined) value = hash.live > 0 ? HASH_VALUE : null
    // A hash keeps its expiry with no field present: its fields may come back (PROTOCOL.md §Hashes).
    const entry: Entry = { wall: decimal(reply[i + 1]), logical: logicalDecimal(reply[i + 2]), node: id, expiresAt: value === null && hash === undefined ? 0 : expiresAt, value }
    if (counter !== undefined) entry.counter = counter
    if (hash !== undefined) entry.hash = hash
    out.push([key.toString('latin1'), entry])
  }
  return out
}

function sizeOf (reply: RespValue): number {
  if (Buffer.isBuffer(reply)) return reply.length
  if (Array.isArray(reply)) {
    let n = 0
    for (const r of reply) n += sizeOf(r)
    return n
  }
  return 8
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0')

/** ENTRIES requests in flight at once in a round. */
const ENTRY_WINDOW = 4

/** The names of our fields the peer's copy of the hash lacks or holds otherwise. */
function differingFields (ours: HashState, theirs: HashState): string[] {
  const out: string[] = []
  for (const [name, f] of ours.fields) {
    const t = theirs.fields.get(name)
    if (t === undefined || !sameField(f, t)) out.push(name)
  }
  return out
}

function sameCut (a: HashState, b: HashState): boolean {
  return a.cut === null ? b.cut === null : b.cut !== null && compareVersions(a.cut, b.cut) === 0
}

/**
 * One chunk of differing leaves: the peer's entries are merged here, ours that
 * it lacks or holds older go to it as MREPL. Returns the keys that moved.
 */
async function exchange (store: Store, peer: SyncPeer, merge: MergeFn, chunk: Array<[number, number, number]>): Promise<number> {
  const { link, sync } = peer
  let moved = 0
  const args = ['ENTRIES']
  for (const [b, lo, hi] of chunk) args.push(String(b), hex8(hi) + hex8(lo))
  const reply = await link.request(command(args))
  sync.bytesReceived += sizeOf(reply)
  const theirs = new Map<string, { v: Version, hash: HashState | undefined }>()
  const batches = new WriterBatches()
  for (const [key, entry] of decodeEntries(reply)) {
    sync.keysReceived++
    theirs.set(key, { v: { wall: entry.wall, logical: entry.logical, node: entry.node }, hash: entry.hash })
    if (merge(key, entry)) moved++
  }
  // Ours of the same leaves that the peer lacks or holds older, grouped by writer as MREPL wants.
  for (const [b, lo, hi] of chunk) {
    store.forEachInLeaves(b, lo, hi, (key, entry) => {
      const their = theirs.get(key)
      if (entry.hash !== undefined && their?.hash !== undefined && entry.hash.set === their.hash.set) {
        // A hash: the fields ours (merged with theirs already) holds otherwise, whatever the key
        // versions, so a round costs what differs, not the hash (PROTOCOL.md §Hashes).
        const fields = differingFields(entry.hash, their.hash)
        if (fields.length > 0 || compareVersions(their.v, entry) !== 0 || !sameCut(entry.hash, their.hash)) batches.add(key, entry, fields)
        return
      }
      // A hash against their value of another type (a string, or a set for a hash): theirs may
      // have cut it to the same key version, so versions tell nothing; the whole hash goes
      // (PROTOCOL.md §Hashes, §Sets).
      if (their !== undefined && compareVersions(their.v, entry) >= 0 && entry.hash === undefined) return
      batches.add(key, entry)
    })
  }
  const out = batches.send(link)
  sync.keysSent += out.entries
  sync.bytesSent += out.bytes
  await out.acknowledged
  return moved + out.entries
}

/**
 * The rest of a round once the roots differ: finds the differing leaves and
 * exchanges their entries both ways. Returns the number of keys that moved.
 */
export async function reconcile (store: Store, peer: SyncPeer, merge: MergeFn): Promise<number> {
  const { link, sync } = peer
  const theirBuckets = expectBuffer(await link.request(command(['DIGEST', 'BUCKETS'])), 'DIGEST BUCKETS')
  if (theirBuckets.length !== BUCKETS * DIGEST_BYTES) throw new Error('DIGEST BUCKETS: wrong size')
  sync.bytesReceived += theirBuckets.length
  const differing: number[] = []
  for (let b = 0; b < BUCKETS; b++) if (!store.digest.bucketEquals(b, theirBuckets, b * DIGEST_BYTES)) differing.push(b)
  // (bucket, lo, hi): the leaves of each differing bucket that differ. The
  // requests are pipelined: one round trip for all of them.
  const leaves: Array<[number, number, number]> = []
  const leafChunks: number[][] = []
  for (let i = 0; i < differing.length; i += 512) leafChunks.push(differing.slice(i, i + 512))
  const leafReplies = await Promise.all(leafChunks.map(chunk => link.request(command(['DIGEST', 'LEAVES', ...chunk.map(String)]))))
  leafChunks.forEach((chunk, c) => {
    const theirs = expectBuffer(leafReplies[c] as RespValue, 'DIGEST LEAVES')
    if (theirs.length !== chunk.length * LEAVES * DIGEST_BYTES) throw new Error('DIGEST LEAVES: wrong size')
    sync.bytesReceived += theirs.length
    chunk.forEach((b, j) => {
      let lo = 0
      let hi = 0
      for (let leaf = 0; leaf < LEAVES; leaf++) {
        if (store.digest.leafEquals(b, leaf, theirs, (j * LEAVES + leaf) * DIGEST_BYTES)) continue
        if (leaf < 32) lo |= 1 << leaf
        else hi |= 1 << (leaf - 32)
      }
      if (lo !== 0 || hi !== 0) leaves.push([b, lo >>> 0, hi >>> 0])
    })
  })
  const chunks: Array<Array<[number, number, number]>> = []
  for (let i = 0; i < leaves.length; i += MAX_ENTRY_BUCKETS) chunks.push(leaves.slice(i, i + MAX_ENTRY_BUCKETS))
  let moved = 0
  let next = 0
  // A few chunks in flight at once (the link pipelines them), each waiting for
  // its own MREPL replies: bounded memory, and round trips overlap.
  const worker = async (): Promise<void> => {
    while (next < chunks.length && link.status === 'ready') {
      moved += await exchange(store, peer, merge, chunks[next++] as Array<[number, number, number]>)
    }
  }
  await Promise.all(Array.from({ length: ENTRY_WINDOW }, worker))
  // A round that stopped halfway fixed only part of the difference: say so (it covers nothing, PROTOCOL.md §Tombstones).
  if (next < chunks.length) throw new Error('the link went down during the round')
  return moved
}
