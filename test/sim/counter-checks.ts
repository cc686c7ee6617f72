// The counter oracle (issue 12): each counter key's final state must follow
// PROTOCOL.md §Counters from the history. Its base is a write some node made
// (with the marks it was made with), no older than the newest acknowledged
// base write; its contributions are increments some node made; every
// acknowledged increment is in it or was seen by a base; and the value is the
// base plus what the winning base had not seen, computed here from the
// recorded history rather than from the state's own marks.

import { valueOf, type Contribution } from '../../lib/store/counter.js'
import { compareVersions, isLive, NO_BASE, type Entry, type Version } from '../../lib/store/entry.js'
import type { Op } from './workload.js'

function sameIdentity (a: Contribution, b: Contribution): boolean {
  return a.node === b.node && a.epochWall === b.epochWall && a.epochLogical === b.epochLogical
}

function sameVersion (a: Version, b: Version): boolean {
  return compareVersions(a, b) === 0
}

function contribs (e: Entry): readonly Contribution[] {
  return e.counter?.contribs ?? []
}

function show (c: Contribution): string {
  return `${c.node.slice(0, 6)}/${c.epochWall}.${c.epochLogical}=${c.total}@${c.wall}.${c.logical}`
}

/** Whether the op's outcome must be in the final state: acknowledged, by a member never removed, not lost with only removed holders. */
function mustHold (op: Op, key: string, removed: ReadonlySet<string>): boolean {
  const survivors = op.survivors.get(key)
  return op.status === 'ok' && !removed.has(op.nodeId) && !(survivors !== undefined && survivors.every(id => removed.has(id)))
}

export function counterFailures (ops: readonly Op[], final: Map<string, Entry>, keys: readonly string[], removed: ReadonlySet<string>,
  now: number, max = 5): string[] {
  const out: string[] = []
  for (const key of keys) {
    if (out.length >= max) break
    const fail = (why: string): void => { out.push(`COUNTER ${key}: ${why}`) }
    const e = final.get(key)
    const bases = ops.filter(o => (o.kind === 'set' || o.kind === 'del' || o.kind === 'flushall') && o.writes.has(key) && o.marks.has(key))
    const incrs = ops.filter(o => o.kind === 'incr' && o.key === key && o.contribution !== null)
    const winner: Version = e ?? NO_BASE
    const finalContribs = e === undefined ? [] : contribs(e)
    // The base: a write that was made, with the marks it was made with.
    let marks: readonly Contribution[] = []
    let base: Buffer | null = null
    if (e !== undefined && !sameVersion(e, NO_BASE)) {
      const made = bases.find(o => sameVersion(o.writes.get(key) as Version, e))
      if (made === undefined) { fail(`base v${e.wall}.${e.logical}@${e.node.slice(0, 6)} was written by no op`); continue }
      marks = made.marks.get(key) ?? []
      base = made.kind === 'set' ? Buffer.from(made.value, 'latin1') : null
    }
    // No acknowledged base write newer than the final base.
    const newestAcked = bases.filter(o => mustHold(o, key, removed)).map(o => ({ op: o, v: o.writes.get(key) as Version & { deleted: boolean } }))
      .sort((a, b) => compareVersions(b.v, a.v))[0]
    // Bases at or below this may have seen an increment that is no longer held.
    let seenUpTo: Version = winner
    if (newestAcked !== undefined && e !== undefined && compareVersions(newestAcked.v, winner) > 0) {
      // Right only after a delete that was collected: the key started afresh
      // (no base), with contributions the delete had not seen at all.
      const deleteSaw = newestAcked.op.marks.get(key) ?? []
      const afresh = newestAcked.v.deleted && sameVersion(e, NO_BASE) && finalContribs.every(c => !deleteSaw.some(m => sameIdentity(m, c)))
      if (!afresh) {
        fail(`final base v${winner.wall}.${winner.logical} is older than acknowledged op #${newestAcked.op.id}`)
        continue
      }
      seenUpTo = newestAcked.v
    }
    if (e === undefined && newestAcked !== undefined && !newestAcked.v.deleted &&
      !bases.some(o => { const v = o.writes.get(key) as Version & { deleted: boolean }; return v.deleted && compareVersions(v, newestAcked.v) > 0 })) {
      fail(`absent, but acknowledged op #${newestAcked.op.id} set it and nothing newer deleted it`)
      continue
    }
    // Contributions: each one an increment that was made, with its total.
    for (const c of finalContribs) {
      const made = incrs.find(o => sameIdentity(o.contribution as Contribution, c) && sameVersion(o.contribution as Contribution, c))
      if (made === undefined) fail(`contribution ${show(c)} was made by no increment`)
      else if ((made.contribution as Contribution).total !== c.total) fail(`contribution ${show(c)} has the wrong total (op #${made.id} left ${(made.contribution as Contribution).total})`)
    }
    for (const m of e?.counter?.seen ?? []) {
      if (!marks.some(x => sameIdentity(x, m) && sameVersion(x, m) && x.total === m.total)) fail(`mark ${show(m)} is not one its base was written with`)
    }
    // Every acknowledged increment is held, or was seen in full by a base at or below the winner.
    for (const op of incrs) {
      if (!mustHold(op, key, removed)) continue
      const c = op.contribution as Contribution
      const held = finalContribs.some(x => sameIdentity(x, c) && compareVersions(x, c) >= 0)
      // (A key collected whole is absent: any base may have seen it.)
      const seen = bases.some(o => (e === undefined || compareVersions(o.writes.get(key) as Version, seenUpTo) <= 0) &&
        (o.marks.get(key) ?? []).some(x => sameIdentity(x, c) && compareVersions(x, c) >= 0))
      if (!held && !seen) fail(`LOST increment: op #${op.id} (${show(c)} at ${op.node}, survivors ${String(op.survivors.get(key))}) is neither held nor seen by a base`)
    }
    // The value, from the recorded base and marks.
    const expected = e === undefined ? null : valueOf({ base, contribs: finalContribs, seen: marks })
    const actual = e !== undefined && isLive(e, now) ? e.value : null
    if ((expected?.toString('latin1') ?? null) !== (actual?.toString('latin1') ?? null)) {
      fail(`value ${actual === null ? 'none' : JSON.stringify(actual.toString('latin1'))}, the rule gives ${expected === null ? 'none' : JSON.stringify(expected.toString('latin1'))}` +
        ` (base v${winner.wall}.${winner.logical}@${winner.node.slice(0, 6)}; contributions ${finalContribs.map(show).join(' ')}; marks ${(e?.counter?.seen ?? []).map(show).join(' ')}; the base was written with ${marks.map(show).join(' ')})`)
    }
  }
  return out
}
