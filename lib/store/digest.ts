import type { Version } from './clock.js'
import type { Contribution, CounterState } from './counter.js'
import { isPlain, type Field, type HashState } from './hash.js'

/** What the digest hashes of an entry: its version and, for a counter, its contributions and marks; for a hash, its fields. */
export type Hashed = Version & { counter?: CounterState, hash?: HashState }

// PROTOCOL.md §Digests. A digest summarises which versions a node holds, so two
// nodes can find what differs between them without sending their data. Each
// entry has a 64-bit hash (two 32-bit lanes) of its key and version; the
// version identifies the write, so the value is not hashed, and an expired
// value turned into a tombstone (same version) keeps its hash. A digest is the
// XOR of its entries' hashes: adding and removing an entry are the same
// operation, so every write updates it in a few operations, never by a pass over
// the store. Three levels: the root, 4096 buckets (the store's), 64 leaves per
// bucket (chosen by other bits of the key's hash, so a key has one leaf).
// A counter (PROTOCOL.md §Counters) adds the hash of each contribution's
// identity and version, and of each of its base's marks, so two nodes that
// hold different increments of a key see different digests.
// A hash (PROTOCOL.md §Hashes) adds the hash of each field: its name, its
// base's version, whether the base was removed and by which stamp, and its
// contributions and marks, so one field's change replaces that part alone
// (toggleField), at a cost that does not grow with the hash.
// The key enters the hash as its 32-bit FNV hash, which the store computes anyway
// for the bucket: a second pass over the key would cost more than the rest.

/** Key buckets (the store's), and leaves per bucket. */
export const DIGEST_BUCKETS = 4096
export const LEAVES = 64

/** Bytes of one digest on the wire: two big-endian 32-bit lanes. */
export const DIGEST_BYTES = 8

/** FNV-1a over the key's bytes: its low 12 bits pick the bucket, the next 6 the leaf. */
export function keyHash (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** keyHash of a key given as its bytes (a request's argument): the same number, with no string made. */
export function keyHashOfBytes (key: Buffer): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ (key[i] as number), 0x01000193)
  return h >>> 0
}

export function leafOf (hash: number): number {
  return (hash >>> 12) & (LEAVES - 1)
}

/** Murmur3's finaliser: every input bit affects every output bit. */
function fmix (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}

/** Node ids are few: their hashes are kept (a bounded cache, as ids come from peers). */
const nodeHashes = new Map<string, number>()
const NODE_CACHE_MAX = 1024
let lastNode = ''
let lastNodeHash = 0

function hashOfNode (node: string): number {
  if (node === lastNode) return lastNodeHash
  let h = nodeHashes.get(node)
  if (h === undefined) {
    if (nodeHashes.size >= NODE_CACHE_MAX) nodeHashes.clear()
    h = keyHash(node)
    nodeHashes.set(node, h)
  }
  lastNode = node
  lastNodeHash = h
  return h
}

// entryHash's result, two 32-bit lanes (module variables: no allocation per write).
let laneA = 0
let laneB = 0

/**
 * The 64-bit hash of (key, version): the key enters as its 32-bit FNV hash
 * (already computed for its bucket), each lane mixes it with the version under
 * different constants.
 */
function entryHash (h: number, v: Version): void {
  versionHash(h, v.wall, v.logical, v.node)
}

/**
 * entryHash of the version's parts. Callers on a hot path read the parts
 * themselves: entryHash's reads see entries, fields, contributions and cuts,
 * too many kinds of object for V8 to read them fast at one place.
 */
function versionHash (h: number, wall: number, logical: number, node: string): void {
  const n = hashOfNode(node)
  const wl = wall >>> 0
  const wh = Math.floor(wall / 4294967296) | 0
  laneA = fmix(fmix(fmix(h ^ wl) ^ wh ^ Math.imul(logical, 0x9e3779b1)) ^ n)
  laneB = fmix(fmix(fmix(Math.imul(h, 0xcc9e2d51) ^ 0x5bd1e995 ^ Math.imul(wl, 0x1b873593)) ^ Math.imul(wh + logical, 0x85ebca6b)) ^ Math.imul(n, 0xc2b2ae35))
}

const CONTRIBUTION_SALT = 0x3c6ef372
const MARK_SALT = 0x1b03738b

/** Adds (XOR) to laneA/laneB the hashes of a counter's contributions and marks. */
function counterHash (h: number, state: CounterState): void {
  let a = laneA
  let b = laneB
  for (let i = 0; i < state.contribs.length; i++) {
    partHash(h, state.contribs[i] as Contribution, CONTRIBUTION_SALT)
    a ^= laneA
    b ^= laneB
  }
  for (let i = 0; i < state.seen.length; i++) {
    partHash(h, state.seen[i] as Contribution, MARK_SALT)
    a ^= laneA
    b ^= laneB
  }
  laneA = a
  laneB = b
}

/** The hash of one contribution (or mark, by `salt`): its identity and version. */
function partHash (h: number, c: Contribution, salt: number): void {
  const epoch = fmix((c.epochWall >>> 0) ^ Math.imul(Math.floor(c.epochWall / 4294967296) | 0, 0x27d4eb2f) ^ Math.imul(c.epochLogical, 0x165667b1) ^ salt)
  versionHash(h ^ epoch, c.wall, c.logical, c.node)
}

const FIELD_SALT = 0x2545f491
const REMOVED_SALT = 0x61c88647
const NULL_BASE_SALT = 0x7f4a7c15
const CUT_SALT = 0x6a09e667
/** A set's entry hashes apart from a hash's of the same fields (PROTOCOL.md §Sets). */
const SET_SALT = 0x510e527f

/** What a field's parts are hashed with: the key's hash and the field name's. */
export function fieldKeyHash (h: number, name: string): number {
  return h ^ fmix(keyHash(name) ^ FIELD_SALT)
}

/** The hash of one field of a hash key (into laneA/laneB). */
function fieldHash (h: number, name: string, f: Field): void {
  const fh = fieldKeyHash(h, name)
  if (isPlain(f)) { // a base and nothing else: its version says it all
    versionHash(fh, f.wall, f.logical, f.node)
    return
  }
  entryHash(fh, f)
  let a = laneA
  let b = laneB
  if (f.state.base === null) {
    a ^= fmix(fh ^ NULL_BASE_SALT)
    b ^= fmix(Math.imul(fh, 0x27d4eb2f) ^ NULL_BASE_SALT)
  }
  if (f.removed !== null) {
    entryHash(fh ^ REMOVED_SALT, f.removed)
    a ^= laneA
    b ^= laneB
  }
  laneA = a
  laneB = b
  if (f.state.contribs.length > 0 || f.state.seen.length > 0) counterHash(fh, f.state)
}

function hashOf (h: number, e: Hashed): void {
  entryHash(h, e)
  if (e.counter !== undefined) counterHash(h, e.counter)
  if (e.hash !== undefined) {
    let a = laneA
    let b = laneB
    if (e.hash.set) {
      a ^= fmix(h ^ SET_SALT)
      b ^= fmix(Math.imul(h, 0x165667b1) ^ SET_SALT)
    }
    if (e.hash.cut !== null) {
      entryHash(h ^ CUT_SALT, e.hash.cut)
      a ^= laneA
      b ^= laneB
    }
    for (const [name, f] of e.hash.fields) {
      fieldHash(h, name, f)
      a ^= laneA
      b ^= laneB
    }
    laneA = a
    laneB = b
  }
}

/** The incrementally kept digest tree of one store. */
export class Digest {
  /** Per leaf, bucket-major: leaves[(bucket * LEAVES + leaf) * 2 + lane]. */
  readonly leaves = new Uint32Array(DIGEST_BUCKETS * LEAVES * 2)
  readonly buckets = new Uint32Array(DIGEST_BUCKETS * 2)
  readonly root = new Uint32Array(2)

  /**
   * Replaces the hash of (key, `from`) by that of (key, `to`) in the key's leaf,
   * bucket and the root; either may be undefined (an entry added or removed).
   * `h` is keyHash(key). XOR: the same call with the versions swapped undoes it.
   */
  change (h: number, from: Hashed | undefined, to: Hashed | undefined): void {
    let a = 0
    let b = 0
    if (from !== undefined) {
      hashOf(h, from)
      a = laneA
      b = laneB
    }
    if (to !== undefined) {
      hashOf(h, to)
      a ^= laneA
      b ^= laneB
    }
    this.toggle(h, a, b)
  }

  /**
   * Adds or removes (XOR) the hash of one of a counter's contributions: called
   * before and after a contribution changes in place (a local increment), it
   * replaces that part alone, the same as change() of the whole entry would.
   */
  toggleContribution (h: number, c: Contribution): void {
    partHash(h, c, CONTRIBUTION_SALT)
    this.toggle(h, laneA, laneB)
  }

  /**
   * Adds or removes (XOR) the hash of one field of a hash key: called with the
   * field's old record and its new one, it replaces that field's part alone,
   * the same as change() of the whole entry would (PROTOCOL.md §Hashes).
   */
  toggleField (h: number, name: string, f: Field): void {
    fieldHash(h, name, f)
    this.toggle(h, laneA, laneB)
  }

  /**
   * Adds or removes (XOR) the hash of one contribution of one field (`fh`:
   * fieldKeyHash of the key's hash `h` and the field's name): called before and
   * after the contribution changes in place (an SADD again, a HINCRBY), it
   * replaces that part alone, the same as toggleField of the whole field would.
   */
  toggleFieldContribution (h: number, fh: number, c: Contribution): void {
    partHash(fh, c, CONTRIBUTION_SALT)
    this.toggle(h, laneA, laneB)
  }

  /** Adds or removes (XOR) the hash of a hash key's cut (PROTOCOL.md §Hashes). */
  toggleCut (h: number, cut: Version): void {
    entryHash(h ^ CUT_SALT, cut)
    this.toggle(h, laneA, laneB)
  }

  private toggle (h: number, a: number, b: number): void {
    const bucket = h & (DIGEST_BUCKETS - 1)
    const li = (bucket * LEAVES + leafOf(h)) * 2
    const leaves = this.leaves
    const buckets = this.buckets
    const root = this.root
    leaves[li] = (leaves[li] as number) ^ a
    leaves[li + 1] = (leaves[li + 1] as number) ^ b
    buckets[bucket * 2] = (buckets[bucket * 2] as number) ^ a
    buckets[bucket * 2 + 1] = (buckets[bucket * 2 + 1] as number) ^ b
    root[0] = (root[0] as number) ^ a
    root[1] = (root[1] as number) ^ b
  }

  /** Reads the key's leaf (Store.warm): a write's change() will find it in the cache. */
  warm (h: number): number {
    return this.leaves[((h & (DIGEST_BUCKETS - 1)) * LEAVES + leafOf(h)) * 2] as number
  }

  /** The root as 16 lowercase hex digits (INFO, MEMBERS, DIGEST). */
  rootHex (): string {
    return hex(this.root[0] as number) + hex(this.root[1] as number)
  }

  /** Root and every bucket digest, 8 bytes each, big-endian lanes: the reply to `DIGEST BUCKETS`. */
  bucketBytes (): Buffer {
    const out = Buffer.allocUnsafe(DIGEST_BUCKETS * DIGEST_BYTES)
    for (let i = 0; i < DIGEST_BUCKETS * 2; i++) out.writeUInt32BE(this.buckets[i] as number, i * 4)
    return out
  }

  /** The 64 leaf digests of each given bucket, 512 bytes per bucket: the reply to `DIGEST LEAVES`. */
  leafBytes (buckets: readonly number[]): Buffer {
    const out = Buffer.allocUnsafe(buckets.length * LEAVES * DIGEST_BYTES)
    let at = 0
    for (const b of buckets) {
      const from = b * LEAVES * 2
      for (let i = 0; i < LEAVES * 2; i++, at += 4) out.writeUInt32BE(this.leaves[from + i] as number, at)
    }
    return out
  }

  /** Whether bucket b's digest equals the 8 bytes at `at` of a peer's bucket digests. */
  bucketEquals (b: number, theirs: Buffer, at: number): boolean {
    return this.buckets[b * 2] === theirs.readUInt32BE(at) && this.buckets[b * 2 + 1] === theirs.readUInt32BE(at + 4)
  }

  /** Whether leaf `leaf` of bucket b equals the 8 bytes at `at` of a peer's leaf digests. */
  leafEquals (b: number, leaf: number, theirs: Buffer, at: number): boolean {
    const i = (b * LEAVES + leaf) * 2
    return this.leaves[i] === theirs.readUInt32BE(at) && this.leaves[i + 1] === theirs.readUInt32BE(at + 4)
  }
}

function hex (n: number): string {
  return n.toString(16).padStart(8, '0')
}
