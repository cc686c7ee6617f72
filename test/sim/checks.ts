// What every schedule must end with (issue 11, the simulator's checks):
// identical data and digests on every member; no acknowledged write lost
// unless a newer write replaced it or only a removed member held it; no
// deleted key back; the tombstone backlog drained.

import type { KeystoneNode } from '../../lib/index.js'
import { fieldValue, present, type HashState } from '../../lib/store/hash.js'
import { compareVersions, isLive, type Entry, type Version } from '../../lib/store/entry.js'
import type { Op } from './workload.js'

/** Every entry of a store, tombstones included, as `key -> entry`. */
export function snapshot (node: KeystoneNode): Map<string, Entry> {
  const out = new Map<string, Entry>()
  node.store.forEachEntry((key, entry) => out.set(key, entry))
  return out
}

function describe (e: Entry | undefined, now: number): string {
  if (e === undefined) return 'absent'
  const v = `${e.wall}.${e.logical}@${e.node.slice(0, 6)}`
  return isLive(e, now) ? `${JSON.stringify(e.value?.toString('latin1'))} v${v}` : `deleted v${v}`
}

/** A hash as clients read it: its present fields and values, sorted (nodes may list them in different orders). */
function hashView (hash: HashState): string {
  const pairs: string[] = []
  for (const [name, f] of hash.fields) if (present(f)) pairs.push(`${name}=${fieldValue(f)?.toString('latin1') ?? ''}`)
  return `${hash.set ? 'set' : 'hash'}{${pairs.sort().join(',')}}`
}

/** Members whose live data or digest differ from the first one's. */
export function differences (nodes: ReadonlyArray<{ addr: string, node: KeystoneNode }>, now: number, max = 5): string[] {
  const out: string[] = []
  const first = nodes[0]
  if (first === undefined) return out
  const live = (n: KeystoneNode): Map<string, string> => {
    const m = new Map<string, string>()
    n.store.forEachEntry((k, e) => { if (isLive(e, now)) m.set(k, e.hash === undefined ? e.value?.toString('latin1') ?? '' : hashView(e.hash)) })
    return m
  }
  const base = live(first.node)
  for (const other of nodes.slice(1)) {
    const data = live(other.node)
    for (const key of new Set([...base.keys(), ...data.keys()])) {
      if (base.get(key) !== data.get(key) && out.length < max) out.push(`${key}: ${first.addr} has ${String(base.get(key))}, ${other.addr} has ${String(data.get(key))}`)
    }
    if (first.node.store.digest.rootHex() !== other.node.store.digest.rootHex() && out.length < max) {
      out.push(`digest ${first.addr} ${first.node.store.digest.rootHex()} != ${other.addr} ${other.node.store.digest.rootHex()}`)
    }
  }
  return out
}

/**
 * The acknowledged operations each key's final state must reflect. For each
 * key, the acknowledged write or delete with the greatest version, made at a
 * node whose id was never removed, must be the final state or be beaten by a newer one.
 */
export function lostOrResurrected (ops: readonly Op[], final: Map<string, Entry>, removed: ReadonlySet<string>, now: number,
  skip: (key: string) => boolean = () => false, max = 5): string[] {
  const newestAcked = new Map<string, { op: Op, v: Version & { deleted: boolean } }>()
  const anyWrite = new Map<string, Array<Version & { deleted: boolean, expiresAt: number }>>()
  for (const op of ops) {
    for (const [key, v] of op.writes) {
      if (skip(key)) continue // counters have their own oracle (counter-checks.ts)
      const survivors = op.survivors.get(key)
      let list = anyWrite.get(key)
      if (list === undefined) anyWrite.set(key, list = [])
      list.push({ ...v, expiresAt: op.kind === 'set' ? op.expiresAt : 0 })
      if (op.status !== 'ok' || removed.has(op.nodeId) || (survivors !== undefined && survivors.every(id => removed.has(id)))) continue
      const best = newestAcked.get(key)
      if (best === undefined || compareVersions(v, best.v) > 0) newestAcked.set(key, { op, v })
    }
  }
  const out: string[] = []
  for (const [key, { op, v }] of newestAcked) {
    if (out.length >= max) break
    const e = final.get(key)
    const live = e !== undefined && isLive(e, now)
    if (e !== undefined && compareVersions(e, v) >= 0) {
      const expired = op.kind === 'set' && op.expiresAt !== 0 && op.expiresAt <= now
      if (compareVersions(e, v) === 0 && live !== (!v.deleted && !expired)) out.push(`${key}: final ${describe(e, now)} disagrees with acknowledged op #${op.id}`)
      continue
    }
    // The final state is older than the newest acknowledged op, or absent.
    if (!live) {
      // Absent: right if the newest acknowledged op deleted it (or its value expired), or if a newer (unacknowledged) delete exists.
      if (v.deleted) continue
      if (op.expiresAt !== 0 && op.expiresAt <= now) continue
      const newerDelete = (anyWrite.get(key) ?? []).some(w => compareVersions(w, v) > 0 && (w.deleted || (w.expiresAt !== 0 && w.expiresAt <= now)))
      if (newerDelete) continue
      out.push(`LOST ${key}: acknowledged op #${op.id} (${op.kind} at ${op.node}) is gone; final ${describe(e, now)}`)
    } else {
      out.push(`${v.deleted ? 'RESURRECTED' : 'STALE'} ${key}: final ${describe(e, now)} is older than acknowledged op #${op.id} (${op.kind} at ${op.node}, v${v.wall}.${v.logical}@${v.node.slice(0, 6)})`)
    }
  }
  return out
}
