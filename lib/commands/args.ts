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
