import { integer, type Encoded } from '../protocol/reply.js'
import { CommandError, integerArg, keyOf, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import type { CommandContext, CommandTable } from './types.js'

// PROTOCOL.md §Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
// EXPIRETIME, PEXPIRETIME, PERSIST. Expiry times are
// absolute (ms since the epoch) in the store, so they replicate unchanged.

/**
 * EXPIRE key seconds [NX|XX|GT|LT] and PEXPIRE key ms [...]; with `absolute`,
 * EXPIREAT key unix-seconds [...] and PEXPIREAT key unix-ms [...].
 */
function expireBy (unitMs: number, absolute = false) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const store = ctx.node.store
    const name = text(args[0]).toLowerCase()
    // Options first, then the number, in Redis's order of checks.
    const options = new Set(args.slice(3).map(upper))
    for (const o of options) if (!['NX', 'XX', 'GT', 'LT'].includes(o)) throw new CommandError(errorText('unsupportedOption', o))
    if (options.has('NX') && (options.has('XX') || options.has('GT') || options.has('LT'))) throw new CommandError(ERRORS.expireOptions)
    if (options.has('GT') && options.has('LT')) throw new CommandError(ERRORS.gtLtTogether)
    const amount = integerArg(args[2])
    const now = store.now()
    const at = (absolute ? 0 : now) + amount * unitMs
    if (!Number.isSafeInteger(at)) throw new CommandError(errorText('invalidExpire', name))
    const key = keyOf(args[1])
    const entry = store.get(key)
    if (entry === undefined) return integer(0)
    const current = entry.expiresAt // 0: no expiry, which counts as infinite for GT and LT
    if (options.has('NX') && current !== 0) return integer(0)
    if (options.has('XX') && current === 0) return integer(0)
    if (options.has('GT') && (current === 0 || at <= current)) return integer(0)
    if (options.has('LT') && current !== 0 && at >= current) return integer(0)
    store.setExpiry(key, at <= now ? now : at)
    return integer(1)
  }
}

function remaining (unitMs: number) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const store = ctx.node.store
    const entry = store.read(keyOf(args[1]))
    if (entry === undefined) return integer(-2)
    if (entry.expiresAt === 0) return integer(-1)
    const ms = Math.max(0, entry.expiresAt - store.now())
    return integer(unitMs === 1 ? ms : Math.round(ms / unitMs))
  }
}

/**
 * EXPIRETIME key and PEXPIRETIME key: the absolute expiry; -1 without one, -2 missing.
 * In seconds rounded to the nearest, half up, as Redis's `(ms + 500) / 1000`.
 */
function expiryTime (unitMs: number) {
  return (ctx: CommandContext, args: Buffer[]): Encoded => {
    const entry = ctx.node.store.read(keyOf(args[1]))
    if (entry === undefined) return integer(-2)
    if (entry.expiresAt === 0) return integer(-1)
    return integer(unitMs === 1 ? entry.expiresAt : Math.floor((entry.expiresAt + 500) / 1000))
  }
}

function persist (ctx: CommandContext, args: Buffer[]): Encoded {
  const store = ctx.node.store
  const key = keyOf(args[1])
  const entry = store.get(key)
  if (entry === undefined || entry.expiresAt === 0) return integer(0)
  store.setExpiry(key, 0)
  return integer(1)
}

export const expiryCommands: CommandTable = {
  expire: { handler: expireBy(1000), arity: -3, write: true, keys: [1, 1, 1], summary: 'EXPIRE key seconds [NX|XX|GT|LT]: 1 if the expiry was set' },
  pexpire: { handler: expireBy(1), arity: -3, write: true, keys: [1, 1, 1], summary: 'PEXPIRE key milliseconds [NX|XX|GT|LT]: 1 if the expiry was set' },
  expireat: { handler: expireBy(1000, true), arity: -3, write: true, keys: [1, 1, 1], summary: 'EXPIREAT key unix-seconds [NX|XX|GT|LT]: 1 if the expiry was set' },
  pexpireat: { handler: expireBy(1, true), arity: -3, write: true, keys: [1, 1, 1], summary: 'PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]: 1 if the expiry was set' },
  expiretime: { handler: expiryTime(1000), arity: 2, keys: [1, 1, 1], summary: 'EXPIRETIME key: the expiry as unix seconds, -1 without expiry, -2 missing' },
  pexpiretime: { handler: expiryTime(1), arity: 2, keys: [1, 1, 1], summary: 'PEXPIRETIME key: the expiry as unix milliseconds, -1 without expiry, -2 missing' },
  ttl: { handler: remaining(1000), arity: 2, keys: [1, 1, 1], summary: 'TTL key: seconds left, -1 without expiry, -2 missing' },
  pttl: { handler: remaining(1), arity: 2, keys: [1, 1, 1], summary: 'PTTL key: milliseconds left, -1 without expiry, -2 missing' },
  persist: { handler: persist, arity: 2, write: true, keys: [1, 1, 1], summary: 'PERSIST key: 1 if an expiry was removed' }
}
