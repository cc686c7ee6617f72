import { parseInt64 } from '../store/numbers.js'
import { CommandError, text, upper } from './args.js'
import { ERRORS } from './errors.js'

// Arguments HSCAN and SSCAN share, and the random picks of HRANDFIELD,
// SRANDMEMBER and SPOP (PROTOCOL.md §Hashes, §Sets).

/**
 * A cursor as Redis reads one (strtoul): an optional sign and decimal digits
 * (none is 0), nothing before or after them, at most 2^64 - 1. Any valid
 * cursor starts a scan of the whole hash or set (PROTOCOL.md §HSCAN).
 */
export function checkScanCursor (arg: Buffer | undefined): void {
  const m = /^[+-]?(\d*)$/.exec(text(arg))
  const digits = m?.[1]
  if (digits === undefined || (digits === '' && text(arg) !== '') || (digits.length > 0 && BigInt(digits) > 18446744073709551615n)) {
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

const LONG_MAX = 9223372036854775807n

/** The count of HRANDFIELD and SRANDMEMBER: -LONG_MAX..LONG_MAX, as Redis checks it. */
export function randomCount (arg: Buffer | undefined): bigint {
  const n = parseInt64(arg as Buffer)
  if (n === null) throw new CommandError(ERRORS.notInteger)
  if (BigInt(n) < -LONG_MAX) throw new CommandError(ERRORS.countOutOfRange)
  return BigInt(n)
}

/** The most elements a negative count may ask for: a reply must not grow the server without bound (PROTOCOL.md §Differences from Redis). */
export const RANDOM_PICKS_MAX = 1_000_000

/**
 * Picks for a random-members count: a negative count picks that many with
 * repetitions; a positive one that many distinct ones (all, in order, when it
 * reaches the size). `items` may be reordered.
 */
export function randomPicks<T> (items: T[], count: bigint): T[] {
  if (count < 0n) {
    if (-count > BigInt(RANDOM_PICKS_MAX)) throw new CommandError(ERRORS.outOfRange)
    const out: T[] = []
    for (let i = 0; i < Number(-count); i++) out.push(items[Math.floor(Math.random() * items.length)] as T)
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
