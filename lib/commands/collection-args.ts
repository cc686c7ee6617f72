import { parseInt64 } from '../store/numbers.js'
import { CommandError, cString, text, upper } from './args.js'
import { ERRORS } from './errors.js'

// Arguments HSCAN and SSCAN share, and the random picks of HRANDFIELD,
// SRANDMEMBER and SPOP (PROTOCOL.md §Hashes, §Sets).

/**
 * A cursor as Redis reads one (strtoul, on the argument up to its first NUL):
 * an optional sign and decimal digits (none is 0), nothing before or after
 * them, at most 2^64 - 1. Any valid cursor starts a scan of the whole hash or
 * set (PROTOCOL.md §HSCAN).
 */
export function checkScanCursor (arg: Buffer | undefined): void {
  const cursor = arg === undefined ? '' : cString(arg, arg.length)
  const digits = /^[+-]?(\d*)$/.exec(cursor)?.[1]?.replace(/^0+/, '')
  // At most 20 digits before any number is made of them: a cursor of megabytes must cost nothing.
  if (digits === undefined || (cursor !== '' && /^[+-]?$/.test(cursor)) || digits.length > 20 || (digits.length === 20 && BigInt(digits) > 18446744073709551615n)) {
    throw new CommandError(ERRORS.invalidCursor)
  }
}

/** The options of SCAN, HSCAN and SSCAN: `[MATCH pattern] [COUNT count]`, and `[TYPE type]` for SCAN. */
export interface ScanOptions {
  /** Null: every name. */
  pattern: string | null
  count: number
  /** Lower case; null: every type. */
  type: string | null
}

/** Reads the scan options from args[from] on; `withType`: TYPE is one (SCAN's). */
export function scanOptions (args: Buffer[], from: number, withType = false): ScanOptions {
  const options: ScanOptions = { pattern: null, count: 10, type: null }
  for (let i = from; i < args.length; i += 2) {
    const option = upper(args[i])
    if (i + 1 >= args.length) throw new CommandError(ERRORS.syntax)
    if (option === 'MATCH') {
      options.pattern = text(args[i + 1])
      if (options.pattern === '*') options.pattern = null
    } else if (option === 'COUNT') {
      const count = parseInt64(args[i + 1] as Buffer)
      if (count === null) throw new CommandError(ERRORS.notInteger)
      if (count < 1) throw new CommandError(ERRORS.syntax)
      options.count = Number(count)
    } else if (option === 'TYPE' && withType) {
      options.type = text(args[i + 1]).toLowerCase()
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  return options
}

export const LONG_MAX = 9223372036854775807n

/** The count of HRANDFIELD and SRANDMEMBER: -LONG_MAX..LONG_MAX, as Redis checks it. */
export function randomCount (arg: Buffer | undefined): bigint {
  const n = parseInt64(arg as Buffer)
  if (n === null) throw new CommandError(ERRORS.notInteger)
  if (BigInt(n) < -LONG_MAX) throw new CommandError(ERRORS.countOutOfRange)
  return BigInt(n)
}

/**
 * The most elements, and bytes, a negative count's reply may hold: it must not
 * grow the server without bound, nor hold up every other client while it is
 * built (PROTOCOL.md §Differences from Redis).
 */
export const RANDOM_PICKS_MAX = 1_000_000
export const RANDOM_REPLY_MAX_BYTES = 64 * 1024 * 1024

/**
 * Picks for a random-members count: a negative count picks that many with
 * repetitions; a positive one that many distinct ones (all, in order, when it
 * reaches the size). `items` may be reordered. `size`: an item's bytes in the reply.
 */
export function randomPicks<T> (items: T[], count: bigint, size: (item: T) => number): T[] {
  if (count < 0n) {
    if (-count > BigInt(RANDOM_PICKS_MAX)) throw new CommandError(ERRORS.outOfRange)
    const out: T[] = []
    let bytes = 0
    for (let i = 0; i < Number(-count); i++) {
      const pick = items[Math.floor(Math.random() * items.length)] as T
      bytes += size(pick)
      if (bytes > RANDOM_REPLY_MAX_BYTES) throw new CommandError(ERRORS.outOfRange)
      out.push(pick)
    }
    return out
  }
  if (count >= BigInt(items.length)) return items
  return distinctPicks(items, Number(count))
}

/** `count` distinct items at random (a partial Fisher-Yates shuffle of `items`, in place). */
export function distinctPicks<T> (items: T[], count: number): T[] {
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i))
    const pick = items[j] as T
    items[j] = items[i] as T
    items[i] = pick
  }
  return items.slice(0, count)
}
