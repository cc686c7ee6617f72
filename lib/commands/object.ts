import { array, bulk, integer, NIL, simple, type Encoded } from '../protocol/reply.js'
import type { Bytes } from '../store/bytes.js'
import { CommandError, keyOf, upper } from './args.js'
import { ERRORS } from './errors.js'
import { hashEncoding } from './hashes.js'
import { setEncoding } from './sets.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §OBJECT. Every value is a string, so its encoding follows from its bytes.

/** Redis stores a value as an integer when it is a canonical int64 of at most 20 characters. */
const CANONICAL_INT = /^(0|-?[1-9]\d{0,19})$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
/** Redis keeps one shared object for each integer 0..9999, with this reference count. */
const SHARED_REFCOUNT = 2147483647
const SHARED_INTEGERS = 10000
/** Longest string Redis embeds in its object header (embstr); longer ones are raw. */
const EMBSTR_MAX = 44

function intValue (value: Bytes): bigint | null {
  if (value.length > 20) return null
  const s = typeof value === 'string' ? value : value.toString('latin1')
  if (!CANONICAL_INT.test(s)) return null
  const n = BigInt(s)
  return n >= INT64_MIN && n <= INT64_MAX ? n : null
}

/** `int`, `embstr` or `raw`, as Redis reports a string written by SET. */
export function encodingOf (value: Bytes): string {
  if (intValue(value) !== null) return 'int'
  return value.length <= EMBSTR_MAX ? 'embstr' : 'raw'
}

function refcountOf (value: Bytes): number {
  const n = intValue(value)
  return n !== null && n >= 0n && n < BigInt(SHARED_INTEGERS) ? SHARED_REFCOUNT : 1
}

const HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.'
]

/**
 * OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP. A missing key: nil.
 * The subcommand and its arity were checked by lookup (the spec's `subcommands`).
 */
function object (ctx: CommandContext, args: Buffer[]): Encoded {
  const sub = upper(args[1])
  if (sub === 'HELP') return array(HELP.map(simple))
  const entry = ctx.node.store.read(keyOf(args[2]))
  const value = entry?.value
  if (entry === undefined || value === undefined || value === null) return NIL
  if (entry.hash !== undefined) { // PROTOCOL.md §OBJECT: a hash is a listpack while small, a set of integers an intset, as in Redis
    if (sub === 'ENCODING') return bulk(entry.hash.set ? setEncoding(entry.hash) : hashEncoding(entry.hash))
    if (sub === 'REFCOUNT') return integer(1)
  }
  switch (sub) {
    case 'ENCODING': return bulk(encodingOf(value))
    case 'REFCOUNT': return integer(refcountOf(value))
    case 'FREQ': throw new CommandError(ERRORS.noAccessFrequency)
    default: throw new CommandError(ERRORS.noAccessTime)
  }
}

export const objectCommands: CommandTable = {
  object: { handler: object, arity: -2, subcommands: { encoding: 3, refcount: 3, idletime: 3, freq: 3, help: 2 }, keys: [2, 2, 1], summary: 'OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP: how a value is kept' }
}
