// Number formats the benchmark's tables share.

/** A whole number with thousands separators: 1,000,000. */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US')

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`

/** a / b to two decimals, or a dash when b is not positive. */
export const ratio = (a: number, b: number): string => b > 0 ? (a / b).toFixed(2) : '—'
