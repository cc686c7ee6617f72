/**
 * A value's bytes: a Buffer, or a latin1 string (one char, one byte). The store
 * keeps a small value as a string (DESIGN.md, memory): a Buffer is a typed-array
 * object of about 96 bytes beside its bytes, a string 16; and one object per key
 * instead of two is less for the garbage collector to copy and mark. Larger values
 * stay Buffers, outside V8's heap and its size limit.
 */
export type Bytes = Buffer | string

/** Values up to this many bytes are kept as latin1 strings (see Bytes). */
export const SMALL_VALUE_MAX = 128

/** The bytes as a Buffer: a string's are copied out. */
export function bufferOf (value: Bytes): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : value
}

/** Copies the bytes into `out` at `at` (which has room for them); returns how many. */
export function copyBytes (value: Bytes, out: Buffer, at: number): number {
  if (typeof value === 'string') return out.write(value, at, 'latin1')
  out.set(value, at) // TypedArray's set: Buffer's copy() checks its arguments in JS first, which costs more for small values
  return value.length
}

/**
 * What the store keeps of a value it is given: a small one as a string, a larger
 * one as a Buffer of its own (`copy`: the caller's bytes may be a view into a
 * network buffer) or as given.
 */
export function storedBytes (value: Bytes, copy: boolean): Bytes {
  if (typeof value === 'string') return value
  if (value.length <= SMALL_VALUE_MAX) return value.toString('latin1')
  return copy ? Buffer.from(value) : value
}
