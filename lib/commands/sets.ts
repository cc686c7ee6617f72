import { array, bulk, bulkArray, EMPTY_ARRAY, integer, NIL, type Encoded } from '../protocol/reply.js'
import { present, presentNames, randomPresent, type HashState } from '../store/hash.js'
import { globMatch } from '../store/glob.js'
import { parseInt64 } from '../store/numbers.js'
import { CommandError, keyOf, upper } from './args.js'
import { checkScanCursor, distinctPicks, randomCount, randomPicks, scanOptions } from './collection-args.js'
import { ERRORS } from './errors.js'
import { setOf } from './kinds.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Sets: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
// SRANDMEMBER, SMOVE, SINTER, SINTERCARD, SUNION, SDIFF, SINTERSTORE,
// SUNIONSTORE, SDIFFSTORE, SSCAN, with Redis 7.0's replies and errors. A set is
// kept as a hash whose fields are its members (store/hash.ts addMember): SREM
// is HDEL, and a member is present while an add of it is unseen by removals.

const memberOf = keyOf

/** The set at `key` for a read (undefined: no key); WRONGTYPE for another type. */
function readSet (ctx: CommandContext, key: string): HashState | undefined {
  return setOf(ctx.node.store.read(key))
}

/** The members present, in the set's order (none for a missing key). */
function membersOf (set: HashState | undefined): string[] {
  return set === undefined ? [] : presentNames(set)
}

function isMember (set: HashState | undefined, member: string): boolean {
  const f = set?.fields.get(member)
  return f !== undefined && present(f)
}

/** SADD key member [member ...]: how many were added. */
function sadd (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  setOf(ctx.node.store.get(key))
  return integer(ctx.node.store.sadd(key, args.slice(2).map(memberOf)))
}

/** SREM key member [member ...]: how many were removed. */
function srem (ctx: CommandContext, args: Buffer[]): Encoded {
  const key = keyOf(args[1])
  if (setOf(ctx.node.store.get(key)) === undefined) return integer(0)
  return integer(ctx.node.store.hdel(key, args.slice(2).map(memberOf)))
}

function smembers (ctx: CommandContext, args: Buffer[]): Encoded {
  return bulkArray(membersOf(readSet(ctx, keyOf(args[1]))))
}

function sismember (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(isMember(readSet(ctx, keyOf(args[1])), memberOf(args[2])) ? 1 : 0)
}

function smismember (ctx: CommandContext, args: Buffer[]): Encoded {
  const set = readSet(ctx, keyOf(args[1]))
  return array(args.slice(2).map(a => integer(isMember(set, memberOf(a)) ? 1 : 0)))
}

function scard (ctx: CommandContext, args: Buffer[]): Encoded {
  return integer(readSet(ctx, keyOf(args[1]))?.live ?? 0)
}

/** SPOP key [count]: removes and returns random members (a removal of those alone, PROTOCOL.md §Sets). */
function spop (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length > 3) throw new CommandError(ERRORS.syntax)
  const key = keyOf(args[1])
  const store = ctx.node.store
  if (args.length === 2) {
    const set = setOf(store.get(key))
    const pick = set === undefined ? undefined : randomPresent(set)
    if (pick === undefined) return NIL
    store.hdel(key, [pick])
    return bulk(pick)
  }
  const count = parseInt64(args[2] as Buffer)
  if (count === null || count < 0) throw new CommandError(ERRORS.notPositive)
  const members = membersOf(setOf(store.get(key)))
  if (members.length === 0 || count === 0) return EMPTY_ARRAY
  const picks = BigInt(count) >= BigInt(members.length) ? members : distinctPicks(members, Number(count))
  store.hdel(key, picks)
  return bulkArray(picks)
}

/** SRANDMEMBER key [count] (PROTOCOL.md §Sets): as HRANDFIELD without values. */
function srandmember (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length > 3) throw new CommandError(ERRORS.syntax)
  if (args.length === 2) {
    const set = readSet(ctx, keyOf(args[1]))
    return bulk(set === undefined ? null : randomPresent(set))
  }
  const count = randomCount(args[2])
  const members = membersOf(readSet(ctx, keyOf(args[1])))
  if (members.length === 0 || count === 0n) return EMPTY_ARRAY
  return bulkArray(randomPicks(members, count, m => m.length + 16))
}

/** SMOVE source destination member: 1 if moved (an SREM at the source and an SADD at the destination), else 0. */
function smove (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const from = keyOf(args[1])
  const to = keyOf(args[2])
  const member = memberOf(args[3])
  const source = setOf(store.get(from))
  if (source === undefined) return integer(0)
  setOf(store.get(to))
  if (from === to) return integer(isMember(source, member) ? 1 : 0)
  if (!isMember(source, member)) return integer(0)
  store.hdel(from, [member])
  store.sadd(to, [member])
  return integer(1)
}

/** The sets at the keys, every key checked for its type first as Redis does (a missing key: undefined). */
function setsAt (ctx: CommandContext, keys: Buffer[]): Array<HashState | undefined> {
  return keys.map(k => readSet(ctx, keyOf(k)))
}

/** The members of every set. */
function union (sets: Array<HashState | undefined>): string[] {
  const out = new Set<string>()
  for (const set of sets) for (const m of membersOf(set)) out.add(m)
  return [...out]
}

/** The members of the first set in every other one; at most `limit` of them (0: no limit). */
function intersection (sets: Array<HashState | undefined>, limit = 0): string[] {
  if (sets.some(s => s === undefined || s.live === 0)) return []
  // The smallest set first: each of its members is looked up in the others.
  const sorted = (sets as HashState[]).slice().sort((a, b) => a.live - b.live)
  const out: string[] = []
  for (const m of membersOf(sorted[0])) {
    if (sorted.every(s => isMember(s, m))) out.push(m)
    if (limit > 0 && out.length >= limit) break
  }
  return out
}

/** The members of the first set in none of the others. */
function difference (sets: Array<HashState | undefined>): string[] {
  const [first, ...rest] = sets
  return membersOf(first).filter(m => !rest.some(s => isMember(s, m)))
}

type Combine = (sets: Array<HashState | undefined>) => string[]

function readCombined (combine: Combine) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => bulkArray(combine(setsAt(ctx, args.slice(1))))
}

/**
 * SINTERSTORE/SUNIONSTORE/SDIFFSTORE destination key [key ...]: the result's
 * size. The destination, of any type, is replaced: deleted (as DEL), then the
 * members added, so it replicates as those writes (PROTOCOL.md §Sets).
 */
function storeCombined (combine: Combine) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const members = combine(setsAt(ctx, args.slice(2)))
    const store = ctx.node.store
    const to = keyOf(args[1])
    store.delete(to)
    if (members.length > 0) store.sadd(to, members)
    return integer(members.length)
  }
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection, up to the limit. */
function sintercard (ctx: CommandContext, args: Buffer[]): Encoded {
  const numkeys = parseInt64(args[1] as Buffer)
  if (numkeys === null || numkeys < 1) throw new CommandError(ERRORS.numkeysNotPositive)
  if (BigInt(numkeys) > BigInt(args.length - 2)) throw new CommandError(ERRORS.numkeysPastArgs)
  const keysEnd = 2 + Number(numkeys)
  let limit = 0
  for (let i = keysEnd; i < args.length; i += 2) {
    if (upper(args[i]) !== 'LIMIT' || i + 1 >= args.length) throw new CommandError(ERRORS.syntax)
    const n = parseInt64(args[i + 1] as Buffer)
    if (n === null || n < 0) throw new CommandError(ERRORS.negativeLimit)
    limit = Number(n)
  }
  return integer(intersection(setsAt(ctx, args.slice(2, keysEnd)), limit).length)
}

/** SSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one reply, cursor 0 (PROTOCOL.md §HSCAN). */
function sscan (ctx: CommandContext, args: Buffer[]): Encoded {
  checkScanCursor(args[2])
  const set = readSet(ctx, keyOf(args[1]))
  if (set === undefined) return array([bulk('0'), EMPTY_ARRAY])
  const { pattern } = scanOptions(args, 3)
  const out = membersOf(set).filter(m => pattern === null || globMatch(pattern, m))
  return array([bulk('0'), bulkArray(out)])
}

/** Redis 7.0 keeps a set as an intset while it has at most 512 members, all integers in 64 bits. */
export function setEncoding (set: HashState): string {
  if (set.live > 512) return 'hashtable'
  for (const m of membersOf(set)) {
    if (!/^(0|-?[1-9]\d{0,18})$/.test(m) || parseInt64(Buffer.from(m, 'latin1')) === null) return 'hashtable'
  }
  return 'intset'
}

const k: [number, number, number] = [1, 1, 1]
const all: [number, number, number] = [1, -1, 1]

export const setCommands: CommandTable = {
  sadd: { handler: sadd, arity: -3, write: true, keys: k, summary: 'SADD key member [member ...]: how many members were added' },
  srem: { handler: srem, arity: -3, write: true, keys: k, summary: 'SREM key member [member ...]: how many members were removed' },
  smembers: { handler: smembers, arity: 2, keys: k, summary: 'SMEMBERS key: every member' },
  sismember: { handler: sismember, arity: 3, keys: k, summary: 'SISMEMBER key member: 1 if a member, else 0' },
  smismember: { handler: smismember, arity: -3, keys: k, summary: 'SMISMEMBER key member [member ...]: 1 or 0 for each' },
  scard: { handler: scard, arity: 2, keys: k, summary: 'SCARD key: the number of members' },
  spop: { handler: spop, arity: -2, write: true, keys: k, summary: 'SPOP key [count]: removes and returns random members' },
  srandmember: { handler: srandmember, arity: -2, keys: k, summary: 'SRANDMEMBER key [count]: random members' },
  smove: { handler: smove, arity: 4, write: true, keys: [1, 2, 1], summary: 'SMOVE source destination member: 1 if moved, else 0' },
  sinter: { handler: readCombined(intersection), arity: -2, keys: all, summary: 'SINTER key [key ...]: the members in every set' },
  sintercard: { handler: sintercard, arity: -3, keys: [0, 0, 0], summary: 'SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection' },
  sunion: { handler: readCombined(union), arity: -2, keys: all, summary: 'SUNION key [key ...]: the members of any set' },
  sdiff: { handler: readCombined(difference), arity: -2, keys: all, summary: 'SDIFF key [key ...]: the members of the first set in no other' },
  sinterstore: { handler: storeCombined(intersection), arity: -3, write: true, keys: all, summary: 'SINTERSTORE destination key [key ...]: the intersection stored; its size' },
  sunionstore: { handler: storeCombined(union), arity: -3, write: true, keys: all, summary: 'SUNIONSTORE destination key [key ...]: the union stored; its size' },
  sdiffstore: { handler: storeCombined(difference), arity: -3, write: true, keys: all, summary: 'SDIFFSTORE destination key [key ...]: the difference stored; its size' },
  sscan: { handler: sscan, arity: -3, keys: k, summary: 'SSCAN key cursor [MATCH pattern] [COUNT count]: [0, member, ...]' }
}
