import { CommandError, keyOf, text } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import { bulk, type Encoded } from '../protocol/reply.js'
import { parseInteger } from '../protocol/request-parser.js'
import { copyBytes } from '../store/bytes.js'
import { MAX_LOGICAL } from '../store/clock.js'
import { decodeState, encodedSize, encodeState } from '../store/counter-codec.js'
import { HASH_VALUE, type Entry } from '../store/entry.js'
import { decodeHash, encodedHashSize, encodeHash, hashBytes, isHashBytes } from '../store/hash-codec.js'

// PROTOCOL.md §Cluster: how entries travel between nodes.
// - REPL key wall logical node expiresAt [value]: one entry (no value: a tombstone).
// - MREPL node (op key wall logical expiresAt value)...: many entries of one writer,
//   op S (a write) or D (a delete, empty value); what peers send each other. Op C
//   is a counter (PROTOCOL.md §Counters): its value field is the base writer's
//   id (a length byte, then the id: it need not be the batch's writer) and the
//   counter's state. Op H is a hash (PROTOCOL.md §Hashes): the same, with the
//   hash's state, whole or only the fields the write changed, instead; a set
//   (PROTOCOL.md §Sets) goes as op H too, its state's first byte saying set.
// - SYNC pages: seven fields per entry, key wall logical node expiresAt value|nil typed|nil,
//   typed a counter's, a hash's or a set's state (told apart by their first byte).

/** Fields per entry of a SYNC page or ENTRIES reply. */
export const PAGE_FIELDS = 7

/** Appends an entry's SYNC-page fields (SYNC and ENTRIES replies) to `out`. */
export function pushPageFields (out: Encoded[], key: string, e: Entry): void {
  const typed = e.counter !== undefined ? encodeState(e.counter) : e.hash !== undefined ? hashBytes(e.hash) : null
  out.push(bulk(key), bulk(String(e.wall)), bulk(String(e.logical)), bulk(e.node), bulk(String(e.expiresAt)), bulk(e.value), bulk(typed))
}

/** A counter's or a hash's state, from the typed field of a page entry or MREPL op C/H; a string says what is wrong. */
export function decodeTyped (field: Buffer): Pick<Entry, 'counter' | 'hash'> | string {
  if (isHashBytes(field)) {
    const hash = decodeHash(field)
    return typeof hash === 'string' ? hash : { hash }
  }
  const counter = decodeState(field)
  return typeof counter === 'string' ? counter : { counter }
}

/** Sets `into`'s counter or hash (and the value the store works out again from it) from a typed field. */
function applyTyped (into: Entry, field: Buffer, expiresAt: number): void {
  const typed = decodeTyped(field)
  if (typeof typed === 'string') throw new CommandError(errorText('invalidEntryField', isHashBytes(field) ? 'hash' : 'counter'))
  if (typed.hash !== undefined) {
    into.hash = typed.hash
    into.value = typed.hash.live > 0 ? HASH_VALUE : null
    into.expiresAt = expiresAt
  } else if (typed.counter !== undefined) {
    into.counter = typed.counter
    into.value = typed.counter.base // the store works the value out again
    into.expiresAt = typed.counter.base === null ? 0 : expiresAt
  }
}

/** A node id as peers send it (ours are 40 hex digits; anything printable without spaces is kept). */
export const NODE_ID = /^[\w.:-]{1,64}$/

/** MREPL fields per entry. */
export const MREPL_FIELDS = 6

/** An MREPL command is closed at this many entries or bytes, whichever comes first (never inside one EXEC's writes). */
const MREPL_MAX_ENTRIES = 4096
const MREPL_MAX_BYTES = 4 * 1024 * 1024

/** Room kept before a command's entries for its `*N` header, written when the command is closed. */
const COUNT_ROOM = 16

/** The encoder's buffer starts at this size, and goes back to it after a batch that grew it past 1 MiB. */
const BUFFER_SIZE = 16 * 1024
const BUFFER_KEEP_MAX = 1024 * 1024

/**
 * Encodes entries written by one node into MREPL commands, straight into one
 * buffer: each entry costs one string write and one copy of its value, and a
 * whole batch leaves as one socket write however many peers it goes to. The
 * encoder's buffer is reused batch after batch; `finish` hands out a copy of
 * exactly the batch's size (small ones come from Node's pool), so a node
 * replicating a trickle of writes does not allocate a large buffer per batch.
 */
export class MreplEncoder {
  /** Entries added since the last finish. */
  entries = 0
  private buf: Buffer
  private pos = 0
  /** Where the open command's header room starts, and how many entries it holds. */
  private commandStart = 0
  private commandEntries = 0
  private commandBytes = 0
  private done: Buffer[] = []
  private readonly prefix: string

  constructor (node: string) {
    this.prefix = `$5\r\nMREPL\r\n$${node.length}\r\n${node}\r\n`
    this.buf = Buffer.allocUnsafe(BUFFER_SIZE)
    this.open()
  }

  /**
   * Adds one entry; the entry is read now and not kept. `split` false: the
   * entry joins the open command whatever its size, so the writes of one EXEC
   * stay in one MREPL command, which a peer applies in one step (PROTOCOL.md §Transactions).
   */
  add (key: string, entry: Entry, split = true, fields?: readonly string[]): void {
    if (split && (this.commandEntries >= MREPL_MAX_ENTRIES || this.commandBytes >= MREPL_MAX_BYTES)) {
      this.close()
      this.open()
    }
    const value = entry.value
    const counter = entry.counter
    const hash = entry.hash
    // A hash write carries the fields it changed, not the hash (PROTOCOL.md §Hashes).
    const names = fields ?? null
    const w = String(entry.wall)
    const l = String(entry.logical)
    const x = String(entry.expiresAt)
    const length = counter !== undefined
      ? 1 + entry.node.length + encodedSize(counter)
      : hash !== undefined ? 1 + entry.node.length + encodedHashSize(hash, names) : value === null ? 0 : value.length
    const head = `$1\r\n${counter !== undefined ? 'C' : hash !== undefined ? 'H' : value === null ? 'D' : 'S'}\r\n$${key.length}\r\n${key}\r\n$${w.length}\r\n${w}\r\n` +
      `$${l.length}\r\n${l}\r\n$${x.length}\r\n${x}\r\n$${length}\r\n`
    const size = head.length + length + 2
    this.reserve(size)
    const start = this.pos
    this.pos += this.buf.write(head, this.pos, 'latin1')
    if (counter !== undefined) {
      this.buf[this.pos++] = entry.node.length
      this.pos += this.buf.write(entry.node, this.pos, 'latin1')
      encodeState(counter, this.buf, this.pos)
      this.pos += length - 1 - entry.node.length
    } else if (hash !== undefined) {
      this.buf[this.pos++] = entry.node.length
      this.pos += this.buf.write(entry.node, this.pos, 'latin1')
      this.pos = encodeHash(hash, names, this.buf, this.pos)
    } else if (value !== null) {
      this.pos += copyBytes(value, this.buf, this.pos)
    }
    this.buf[this.pos++] = 13
    this.buf[this.pos++] = 10
    this.commandEntries++
    this.commandBytes += this.pos - start
    this.entries++
  }

  /** The MREPL commands added since the last finish, as one chunk of their own; the encoder starts afresh. */
  finish (): { bytes: Buffer, commands: number, entries: number } {
    if (this.commandEntries > 0) this.close()
    const out = { bytes: Buffer.concat(this.done), commands: this.done.length, entries: this.entries }
    this.done = []
    this.entries = 0
    this.pos = 0
    if (this.buf.length > BUFFER_KEEP_MAX) this.buf = Buffer.allocUnsafe(BUFFER_SIZE) // one huge batch must not pin its size
    this.open()
    return out
  }

  private open (): void {
    this.reserve(COUNT_ROOM + this.prefix.length)
    this.commandStart = this.pos
    this.pos += COUNT_ROOM
    this.pos += this.buf.write(this.prefix, this.pos, 'latin1')
    this.commandEntries = 0
    this.commandBytes = 0
  }

  /** Writes the `*N` header right before the prefix and keeps the command's bytes. */
  private close (): void {
    const header = `*${2 + this.commandEntries * MREPL_FIELDS}\r\n`
    const headerStart = this.commandStart + COUNT_ROOM - header.length
    this.buf.write(header, headerStart, 'latin1')
    this.done.push(this.buf.subarray(headerStart, this.pos))
  }

  private reserve (size: number): void {
    if (this.pos + size <= this.buf.length) return
    // Commands already closed keep pointing into the old buffer, which stays valid.
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + size))
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }
}

export function integerField (arg: Buffer | undefined, what: string): number {
  const n = arg === undefined || arg.length > 16 || arg[0] === 45 ? null : parseInteger(arg, 0, arg.length)
  if (n === null) throw new CommandError(errorText('invalidEntryField', what))
  return n
}

/** A version's logical count: an integerField that fits the 32 bits every encoding holds it in (clock.ts MAX_LOGICAL). */
export function logicalField (arg: Buffer | undefined): number {
  const n = integerField(arg, 'logical')
  if (n > MAX_LOGICAL) throw new CommandError(errorText('invalidEntryField', 'logical'))
  return n
}

/** The last node id decoded: every REPL from one peer carries the same one. */
let lastNode: { bytes: Buffer, text: string } | null = null

export function nodeField (arg: Buffer | undefined): string {
  if (arg === undefined || arg.length === 0) throw new CommandError(errorText('invalidEntryField', 'node'))
  if (lastNode !== null && lastNode.bytes.equals(arg)) return lastNode.text
  const id = text(arg)
  if (!NODE_ID.test(id)) throw new CommandError(errorText('invalidEntryField', 'node'))
  lastNode = { bytes: Buffer.from(arg), text: id }
  return id
}

/** Reads the version and expiry fields at args[at..at+3]; value is supplied by the caller. */
export function decodeEntry (args: Buffer[], at: number, value: Buffer | null): { key: string, entry: Entry } {
  const node = nodeField(args[at + 3])
  return {
    key: keyOf(args[at]),
    entry: {
      wall: integerField(args[at + 1], 'wall'),
      logical: logicalField(args[at + 2]),
      node,
      expiresAt: integerField(args[at + 4], 'expiresAt'),
      value
    }
  }
}

const OP_SET = 83 // 'S'
const OP_DELETE = 68 // 'D'
const OP_COUNTER = 67 // 'C'
const OP_HASH = 72 // 'H'

/**
 * Decodes MREPL's entries one at a time into `into` (reused: the store copies
 * what it keeps) and hands each to `apply`. An invalid entry throws; the ones
 * before it have been applied, each being a valid write on its own.
 */
export function forEachMreplEntry (args: Buffer[], into: Entry, apply: (key: string, entry: Entry) => void): void {
  const writer = nodeField(args[1])
  for (let at = 2; at + MREPL_FIELDS <= args.length; at += MREPL_FIELDS) {
    const op = args[at] as Buffer
    if (op.length !== 1 || (op[0] !== OP_SET && op[0] !== OP_DELETE && op[0] !== OP_COUNTER && op[0] !== OP_HASH)) throw new CommandError(errorText('invalidEntryField', 'op'))
    into.wall = integerField(args[at + 2], 'wall')
    into.logical = logicalField(args[at + 3])
    const expiresAt = integerField(args[at + 4], 'expiresAt')
    const field = args[at + 5] as Buffer
    into.node = writer
    into.counter = undefined
    into.hash = undefined
    if (op[0] === OP_COUNTER || op[0] === OP_HASH) {
      const idLength = field[0] ?? 0
      into.node = nodeField(field.subarray(1, 1 + idLength))
      const typed = field.subarray(1 + idLength)
      if (isHashBytes(typed) !== (op[0] === OP_HASH)) throw new CommandError(errorText('invalidEntryField', 'op'))
      applyTyped(into, typed, expiresAt)
    } else {
      const isSet = op[0] === OP_SET
      into.expiresAt = isSet ? expiresAt : 0 // a tombstone has no expiry
      into.value = isSet ? field : null
    }
    apply(keyOf(args[at + 1]), into)
  }
}
