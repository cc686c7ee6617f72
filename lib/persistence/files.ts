import fs from 'node:fs'
import path from 'node:path'

// FORMAT.md §Generations: snapshot-N.ks holds the state as of the moment log-N.ks
// was started; the node's state is the newest snapshot plus every log of its
// generation or later, replayed in order.

const PATTERN = /^(log|snapshot)-(\d{6,})\.ks$/

export function logName (gen: number): string {
  return `log-${String(gen).padStart(6, '0')}.ks`
}

export function snapshotName (gen: number): string {
  return `snapshot-${String(gen).padStart(6, '0')}.ks`
}

export interface DirListing {
  /** Generations of the snapshots and logs present, ascending. */
  snapshots: number[]
  logs: number[]
  /** Leftovers of an interrupted write (`*.tmp`): never complete, always safe to remove. */
  temps: string[]
}

export function listFiles (dir: string): DirListing {
  const out: DirListing = { snapshots: [], logs: [], temps: [] }
  for (const name of fs.readdirSync(dir)) {
    const m = PATTERN.exec(name)
    if (m !== null) (m[1] === 'log' ? out.logs : out.snapshots).push(Number(m[2]))
    else if (name.endsWith('.tmp')) out.temps.push(path.join(dir, name))
  }
  out.snapshots.sort((a, b) => a - b)
  out.logs.sort((a, b) => a - b)
  return out
}
