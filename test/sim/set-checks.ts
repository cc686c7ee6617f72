// The set oracle (issue 13): each set key's final state must follow
// PROTOCOL.md §Sets from the recorded history. A member's adds are the
// contributions SADDs made; a removal marks the adds it had seen. So:
// - every add still unseen in the final state, and every add a removal
//   marked, is one an SADD made (provenance);
// - no add still unseen was seen by a removal (nothing a removal took comes back);
// - every acknowledged add that no removal had seen is in the final state (add wins,
//   nothing lost), unless only removed members held it.

import type { Contribution } from '../../lib/store/counter.js'
import { compareVersions, isLive, type Entry } from '../../lib/store/entry.js'
import { present, type Field } from '../../lib/store/hash.js'
import type { Op } from './workload.js'

function sameIdentity (a: Contribution, b: Contribution): boolean {
  return a.node === b.node && a.epochWall === b.epochWall && a.epochLogical === b.epochLogical
}

/** Whether `later` is the add `c` or a later state of the same contribution. */
function atLeast (later: Contribution, c: Contribution): boolean {
  return sameIdentity(later, c) && compareVersions(later, c) >= 0
}

function show (c: Contribution): string {
  return `${c.node.slice(0, 6)}/${c.epochWall}.${c.epochLogical}@${c.wall}.${c.logical}`
}

/** The field's adds its removals had not seen in full (what keeps it present). */
function unseen (f: Field): Contribution[] {
  return f.state.contribs.filter(c => !f.state.seen.some(m => sameIdentity(m, c) && compareVersions(m, c) === 0))
}

/** Whether the op's write must be in the final state: acknowledged, by a member never removed, not lost with only removed holders. */
function mustHold (op: Op, key: string, removed: ReadonlySet<string>): boolean {
  const survivors = op.survivors.get(key)
  return op.status === 'ok' && !removed.has(op.nodeId) && !(survivors !== undefined && survivors.every(id => removed.has(id)))
}

export function setFailures (ops: readonly Op[], final: Map<string, Entry>, keys: readonly string[], removed: ReadonlySet<string>, now: number, max = 5): string[] {
  const out: string[] = []
  for (const key of keys) {
    const fail = (why: string): void => { if (out.length < max) out.push(`SET ${key}: ${why}`) }
    const e = final.get(key)
    if (e !== undefined && isLive(e, now) && e.hash?.set !== true) { fail('holds another type'); continue }
    const set = e?.hash?.set === true ? e.hash : undefined
    const adds = ops.flatMap(o => o.setAdds.filter(a => a.key === key).map(a => ({ op: o, ...a })))
    const removals = ops.flatMap(o => o.setRemovals.filter(r => r.key === key).map(r => ({ op: o, ...r })))
    // `sure`: only removals that must have reached every member (acknowledged, by a member never
    // removed, not lost with the power); otherwise any removal made, which may have reached them.
    const seenByRemoval = (member: string, c: Contribution, sure = false): number | undefined =>
      removals.find(r => r.member === member && (!sure || mustHold(r.op, key, removed)) && r.seen.some(m => atLeast(m, c)))?.op.id
    // A removal marks adds that were made, as the removing node held them.
    const made = (member: string, c: Contribution): boolean => adds.some(a => a.member === member && sameIdentity(a.add, c) && compareVersions(a.add, c) === 0)
    for (const r of removals) {
      for (const m of r.seen) if (!made(r.member, m)) fail(`member ${r.member}: removal op #${r.op.id} marked ${show(m)}, an add no SADD made`)
    }
    // What is there: made by an SADD, and seen by no removal.
    for (const [member, f] of set?.fields ?? []) {
      if (!present(f)) continue
      for (const c of unseen(f)) {
        if (!made(member, c)) fail(`member ${member}: add ${show(c)} was made by no SADD`)
        const by = seenByRemoval(member, c, true)
        if (by !== undefined) fail(`RESURRECTED member ${member}: add ${show(c)} was seen by removal op #${by}`)
      }
    }
    // What must be there: every acknowledged add no removal had seen.
    for (const a of adds) {
      if (!mustHold(a.op, key, removed) || seenByRemoval(a.member, a.add) !== undefined) continue
      const f = set?.fields.get(a.member)
      const held = f !== undefined && present(f) && f.state.contribs.some(c => atLeast(c, a.add))
      if (!held) fail(`LOST member ${a.member}: op #${a.op.id} (SADD at ${a.op.node}, add ${show(a.add)}) was seen by no removal, and is not in the final set`)
    }
  }
  return out
}
