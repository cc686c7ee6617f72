import { ERRORS } from './errors.js'

// Argument helpers shared by the handlers. Keys and option words are latin1
// strings so that every byte maps to one character.

export function text (arg: Buffer | undefined): string {
  return arg === undefined ? '' : arg.toString('latin1')
}

/** A key: its bytes as a latin1 string (the store's key type). */
export const keyOf = text

export function upper (arg: Buffer | undefined): string {
  return text(arg).toUpperCase()
}

/** Error texts quote at most this many bytes of an argument (Redis's `%.128s`). */
export const QUOTED_MAX = 128

/** At most `max` bytes of `arg`, cut at its first NUL (Redis formats these as C strings). */
export function cString (arg: Buffer, max: number): string {
  const nul = arg.indexOf(0)
  return arg.toString('latin1', 0, Math.min(nul === -1 ? arg.length : nul, max))
}

/**
 * A subcommand as `ERR unknown subcommand '%s'` quotes it: as Redis's `'%.128s'`
 * of a C string, its first 128 bytes, cut at its first NUL.
 */
export function quotedSubcommand (arg: Buffer | undefined): string {
  return arg === undefined ? '' : cString(arg, QUOTED_MAX)
}

/** Thrown by parsers of arguments; the dispatcher turns it into an error reply. */
export class CommandError extends Error {}

/** A 64-bit-style integer argument (within JS's safe range), or the Redis error. */
export function integerArg (arg: Buffer | undefined): number {
  const s = text(arg)
  if (!/^-?\d{1,16}$/.test(s)) throw new CommandError(ERRORS.notInteger)
  const n = Number(s)
  if (!Number.isSafeInteger(n) || (s.length > 1 && /^-?0/.test(s))) throw new CommandError(ERRORS.notInteger)
  return n
}
