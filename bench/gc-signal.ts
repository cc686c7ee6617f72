// Preloaded into the Keystone node of the memory benchmark (bench/memory.ts):
// `node --expose-gc --require dist/bench/gc-signal.js bin/keystone-server ...`.
// SIGUSR2 runs a full garbage collection, so that INFO used_memory (heap in use
// plus external) counts what the data holds, not garbage not yet collected.
// Nothing in lib/ changes; without --expose-gc this does nothing.

const gc = (globalThis as { gc?: () => void }).gc
if (gc !== undefined) process.on('SIGUSR2', () => gc())
