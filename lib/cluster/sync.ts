import { array, bulk, type Encoded } from '../protocol/reply.js'
import { BUCKETS, type Store } from '../store/store.js'
import type { Entry } from '../store/entry.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { MreplEncoder } from './entry-codec.js'
import type { PeerLink } from './peer-link.js'

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
  for (const [key, e] of p.entries) {
    flat.push(bulk(key), bulk(String(e.wall)), bulk(String(e.logical)), bulk(e.node), bulk(String(e.expiresAt)), bulk(e.value))
  }
  return array([bulk(String(p.next)), array(flat)])
}

/**
 * Sends this node's whole state to a peer as MREPL batches (one per writer
 * node), page by page, waiting for each page's acknowledgements before the
 * next (flow control, so a slow peer never looks dead and memory stays
 * bounded). Writes made meanwhile travel on the same link, so the peer ends up
 * with everything. Returns the number of entries and bytes sent.
 */
export async function pushState (store: Store, link: PeerLink): Promise<{ entries: number, bytes: number }> {
  let cursor = 0
  let sent = 0
  let size = 0
  do {
    const p = page(store, cursor)
    const byWriter = new Map<string, MreplEncoder>()
    for (const [key, entry] of p.entries) {
      let encoder = byWriter.get(entry.node)
      if (encoder === undefined) {
        encoder = new MreplEncoder(entry.node)
        byWriter.set(entry.node, encoder)
      }
      encoder.add(key, entry)
    }
    const replies: Array<Promise<RespValue[]>> = []
    for (const encoder of byWriter.values()) {
      const { bytes, commands, entries } = encoder.finish()
      replies.push(link.requestMany(bytes, commands))
      sent += entries
      size += bytes.length
    }
    for (const reply of await Promise.all(replies)) {
      const refused = reply.find(r => r instanceof RespError)
      if (refused !== undefined) throw new Error(`the peer refused an entry: ${String(refused)}`)
    }
    cursor = p.next
    await new Promise(resolve => setImmediate(resolve)) // let clients in between pages
  } while (cursor !== 0 && link.status === 'ready')
  return { entries: sent, bytes: size }
}
