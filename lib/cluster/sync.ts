import { array, bulk, type Encoded } from '../protocol/reply.js'
import { BUCKETS, type Store } from '../store/store.js'
import type { Entry } from '../store/entry.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { MreplEncoder, pushPageFields } from './entry-codec.js'
import type { PeerLink } from './peer-link.js'
import { nextTurn, type Runtime } from './runtime.js'

// PROTOCOL.md §State transfer. A node's state goes out in pages of whole key
// buckets, so neither side holds the whole store in one message and clients are
// served between pages.

/** Buckets per page: about 1/64 of the store. */
export const PAGE_BUCKETS = 64

/** Entries (tombstones included) of buckets [cursor, cursor + count); the next cursor, 0 at the end. */
export function page (store: Store, cursor: number, buckets = PAGE_BUCKETS): { next: number, entries: Array<[string, Entry]> } {
  const entries: Array<[string, Entry]> = []
  const end = Math.min(BUCKETS, cursor + buckets)
  for (let b = cursor; b < end; b++) store.forEachInBucket(b, (key, entry) => entries.push([key, entry]))
  return { next: end >= BUCKETS ? 0 : end, entries }
}

/** The SYNC reply: `[next-cursor, [key, wall, logical, node, expiresAt, value|nil, ...]]`. */
export function encodePage (p: { next: number, entries: Array<[string, Entry]> }): Encoded {
  const flat: Encoded[] = []
  for (const [key, e] of p.entries) pushPageFields(flat, key, e)
  return array([bulk(String(p.next)), array(flat)])
}

/** Entries for a peer grouped by writer, as MREPL wants: one batch per writer. */
export class WriterBatches {
  private readonly byWriter = new Map<string, MreplEncoder>()

  /** `fields`: of a hash, only those (the rest the peer holds already). */
  add (key: string, entry: Entry, fields?: readonly string[]): void {
    let encoder = this.byWriter.get(entry.node)
    if (encoder === undefined) {
      encoder = new MreplEncoder(entry.node)
      this.byWriter.set(entry.node, encoder)
    }
    encoder.add(key, entry, true, fields)
  }

  /**
   * Sends every batch on `link`: the entries and bytes sent, and `acknowledged`,
   * which settles once the peer answered them all and rejects if it refused one.
   */
  send (link: PeerLink): { entries: number, bytes: number, acknowledged: Promise<void> } {
    let entries = 0
    let bytes = 0
    const replies: Array<Promise<RespValue[]>> = []
    for (const encoder of this.byWriter.values()) {
      const batch = encoder.finish()
      replies.push(link.requestMany(batch.bytes, batch.commands))
      entries += batch.entries
      bytes += batch.bytes.length
    }
    const acknowledged = Promise.all(replies).then(all => {
      for (const reply of all) {
        const refused = reply.find(r => r instanceof RespError)
        if (refused !== undefined) throw new Error(`the peer refused an entry: ${String(refused)}`)
      }
    })
    return { entries, bytes, acknowledged }
  }
}

/**
 * Sends this node's whole state to a peer as MREPL batches (one per writer
 * node), page by page, waiting for each page's acknowledgements before the
 * next (flow control, so a slow peer never looks dead and memory stays
 * bounded). Writes made meanwhile travel on the same link, so the peer ends up
 * with everything. Returns the number of entries and bytes sent.
 */
export async function pushState (store: Store, link: PeerLink, runtime: Runtime): Promise<{ entries: number, bytes: number }> {
  let cursor = 0
  let sent = 0
  let size = 0
  do {
    const p = page(store, cursor)
    const batches = new WriterBatches()
    for (const [key, entry] of p.entries) batches.add(key, entry)
    const out = batches.send(link)
    sent += out.entries
    size += out.bytes
    await out.acknowledged
    cursor = p.next
    await nextTurn(runtime) // let clients in between pages
  } while (cursor !== 0 && link.status === 'ready')
  // A transfer cut short is no transfer: the caller must not count it as done.
  if (cursor !== 0) throw new Error('the link went down during the state transfer')
  return { entries: sent, bytes: size }
}
