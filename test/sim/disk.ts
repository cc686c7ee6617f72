// A node's data directory, kept in memory across the simulated node's
// incarnations: every write the store makes is appended as a record (as the
// append log does), and the records written before the last simulated fsync
// (once a second, as --fsync everysec) are what survives a power loss. A
// kill keeps everything written: the operating system has it.

import type { Durability } from '../../lib/commands/types.js'
import type { MemberRecord } from '../../lib/persistence/data-dir.js'
import type { NodeData } from '../../lib/persistence/persistence.js'
import { decodeState, encodeState } from '../../lib/store/counter-codec.js'
import { HASH_VALUE, type Entry } from '../../lib/store/entry.js'
import { decodeHash, hashBytes } from '../../lib/store/hash-codec.js'
import type { Store } from '../../lib/store/store.js'

interface Record {
  readonly key: string
  readonly entry: Entry
}

export class MemoryDisk {
  nodeId: string
  members: MemberRecord[] = []
  removed = new Map<string, string>()
  records: Record[] = []
  /** Records before this index are on the platter. */
  synced = 0

  constructor (freshId: string) {
    this.nodeId = freshId
  }

  /** --fsync everysec's fsync. */
  sync (): void {
    this.synced = this.records.length
  }

  /** A power loss: what was not synced is gone. Returns the records lost. */
  losePowerTail (): Array<{ key: string, entry: Entry }> {
    return this.records.splice(this.synced)
  }

  /** The NodeData a new incarnation of the node opens. */
  open (): NodeData {
    let loaded: Store | null = null
    const durability: Durability = { failure: null, dir: 'sim', fsync: 'everysec', compact: () => false, info: () => ({}) }
    return {
      ...durability,
      nodeId: this.nodeId,
      members: () => this.members.map(m => ({ ...m })),
      saveMembers: members => { this.members = members.map(m => ({ ...m })) },
      removed: () => new Map(this.removed),
      saveRemoved: removed => { this.removed = new Map(removed) },
      load: store => {
        for (const r of this.records) store.restore(r.key, copied(r.entry), true)
        loaded = store
        store.onWrite((key, entry, _local, fields) => {
          if (loaded !== store) return
          this.records.push({ key, entry: copied(entry, fields) })
        })
      },
      barrier: () => null,
      close: async () => { loaded = null }
    }
  }
}

/**
 * An entry as the log would keep it: its bytes, not the store's objects (a
 * node changes its own counter contribution in place, and a hash's fields
 * change and are collected in the same HashState, as the real log, which
 * encodes at once, never sees). A hash write's record holds the fields it
 * changed, as the real log's (FORMAT.md §Hash state).
 */
function copied (entry: Entry, fields?: readonly string[]): Entry {
  const copy: Entry = { ...entry, value: entry.value === null ? null : Buffer.from(entry.value) }
  if (entry.hash !== undefined) {
    const hash = decodeHash(hashBytes(entry.hash, fields ?? null))
    if (typeof hash === 'string') throw new Error(`sim disk: ${hash}`)
    copy.hash = hash
    copy.value = hash.live > 0 ? HASH_VALUE : null // as the log's record decodes (persistence/record.ts)
  }
  if (entry.counter !== undefined) {
    const state = decodeState(encodeState(entry.counter))
    if (typeof state === 'string') throw new Error(`sim disk: ${state}`)
    copy.counter = state
    copy.value = state.base
  }
  return copy
}
