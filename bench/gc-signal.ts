import { renameSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'

// Preloaded into the Keystone node of the memory benchmark (bench/memory.ts):
// `node --expose-gc --require dist/bench/gc-signal.js bin/keystone-server ...`.
// Nothing in lib/ changes.
//
// SIGUSR2 runs a full garbage collection, so that INFO used_memory (heap in use
// plus external) counts what the data holds, not garbage not yet collected;
// without --expose-gc it does nothing.
//
// SIGURG writes a heap snapshot to the path in KEYSTONE_BENCH_HEAP_SNAPSHOT
// (V8 collects garbage before taking one). It is written under a temporary
// name and renamed, so the bench, polling for the path, never reads half a
// file. Not SIGUSR1: Node keeps that one for starting the inspector.

const gc = (globalThis as { gc?: () => void }).gc
if (gc !== undefined) process.on('SIGUSR2', () => gc())

const snapshotPath = process.env.KEYSTONE_BENCH_HEAP_SNAPSHOT
if (snapshotPath !== undefined && snapshotPath !== '') {
  process.on('SIGURG', () => {
    try {
      writeHeapSnapshot(`${snapshotPath}.tmp`)
      renameSync(`${snapshotPath}.tmp`, snapshotPath)
    } catch (err) {
      // The bench times out waiting for the file; this says why.
      process.stderr.write(`gc-signal: heap snapshot to ${snapshotPath} failed: ${err instanceof Error ? err.message : String(err)}\n`)
    }
  })
}
