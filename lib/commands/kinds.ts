import type { Bytes } from '../store/bytes.js'
import type { Entry } from '../store/entry.js'
import type { HashState } from '../store/hash.js'
import { CommandError } from './args.js'
import { ERRORS } from './errors.js'

// A key holds a string (counters included), a hash (PROTOCOL.md §Hashes) or a
// set (§Sets, kept as a hash whose fields are its members). A command for one
// kind on a key of another answers WRONGTYPE, as in Redis.

/** The string value of a live entry (undefined: none); WRONGTYPE for a hash. */
export function stringOf (entry: Entry | undefined): Bytes | undefined {
  if (entry === undefined) return undefined
  if (entry.hash !== undefined) throw new CommandError(ERRORS.wrongType)
  return entry.value ?? undefined
}

/** The hash of a live entry (undefined: none); WRONGTYPE for a string or set. */
export function hashOf (entry: Entry | undefined): HashState | undefined {
  if (entry === undefined) return undefined
  if (entry.hash === undefined || entry.hash.set) throw new CommandError(ERRORS.wrongType)
  return entry.hash
}

/** The set of a live entry (undefined: none); WRONGTYPE for a string or hash. */
export function setOf (entry: Entry | undefined): HashState | undefined {
  if (entry === undefined) return undefined
  if (entry.hash === undefined || !entry.hash.set) throw new CommandError(ERRORS.wrongType)
  return entry.hash
}

/** TYPE's answer for a live entry. */
export function typeName (entry: Entry | undefined): string {
  if (entry === undefined) return 'none'
  return entry.hash === undefined ? 'string' : entry.hash.set ? 'set' : 'hash'
}
