import { array, error, OK, type Encoded } from '../protocol/reply.js'
import { isLive } from '../store/entry.js'
import type { Store } from '../store/store.js'
import { keyOf } from './args.js'
import { ERRORS, errorText } from './errors.js'
import { call } from './call.js'
import type { CommandContext, CommandSpec, CommandTable, Session, Watching } from './types.js'

// PROTOCOL.md §Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, as Redis 7.
// The connection queues what comes between MULTI and EXEC (`queue`); EXEC runs
// the queue in one synchronous step, inside `NodeContext.atomically`, so its
// writes leave for the peers in one MREPL command (DESIGN.md §The path of a write, G8).

export const QUEUED = '+QUEUED\r\n'
/** RESP2's nil array: EXEC when a watched key changed. */
export const NIL_ARRAY = '*-1\r\n'

/**
 * The watched keys of every connection of one store. A write to a key (local,
 * merged from a peer, FLUSHALL's deletes) makes every connection watching it
 * dirty. Expiry writes nothing, so EXEC looks at expiry itself (`watchesHold`).
 */
class WatchedKeys {
  private readonly byKey = new Map<string, Set<Watching>>()

  constructor (store: Store) {
    // Registered on the first WATCH: a node nobody watches pays nothing per write.
    store.onWrite((key, _entry, _local, _fields, unseen) => {
      // An SADD of members already there changes nothing a client reads: Redis does not count it either.
      if (this.byKey.size !== 0 && unseen !== true) this.touch(key)
    })
  }

  add (w: Watching, key: string): void {
    let set = this.byKey.get(key)
    if (set === undefined) {
      set = new Set()
      this.byKey.set(key, set)
    }
    set.add(w)
  }

  /** Lets go of every key `w` watches (its `keys` are cleared too). */
  remove (w: Watching): void {
    for (const key of w.keys.keys()) {
      const set = this.byKey.get(key)
      if (set === undefined) continue
      set.delete(w)
      if (set.size === 0) this.byKey.delete(key)
    }
    w.keys.clear()
  }

  private touch (key: string): void {
    const set = this.byKey.get(key)
    if (set === undefined) return
    // As Redis: a dirty connection stays dirty until EXEC, DISCARD or UNWATCH, so its keys go now.
    for (const w of [...set]) {
      w.dirty = true
      this.remove(w)
    }
  }
}

const registries = new WeakMap<Store, WatchedKeys>()

function watchedKeys (store: Store): WatchedKeys {
  let r = registries.get(store)
  if (r === undefined) {
    r = new WatchedKeys(store)
    registries.set(store, r)
  }
  return r
}

/** UNWATCH, and what EXEC, DISCARD and a closed connection do. */
export function unwatchAll (ctx: CommandContext): void {
  const w = ctx.session.watching
  if (w === null) return
  ctx.session.watching = null
  registries.get(ctx.node.store)?.remove(w)
}

function discard (ctx: CommandContext): void {
  ctx.session.multi = null
  unwatchAll(ctx)
}

/**
 * Whether EXEC may run: nothing watched changed. A key that held a live value
 * when watched and no longer does has expired meanwhile (reclaimed or not),
 * which Redis counts as a change; a key already expired when watched does not.
 */
function watchesHold (ctx: CommandContext): boolean {
  const w = ctx.session.watching
  if (w === null) return true
  if (w.dirty) return false
  const store = ctx.node.store
  const now = store.now()
  for (const [key, wasLive] of w.keys) {
    if (!wasLive) continue
    const entry = store.peek(key)
    if (entry === undefined || !isLive(entry, now)) return false
  }
  return true
}

/** Between MULTI and EXEC: keeps the command for EXEC (the connection calls this instead of running it). */
export function queue (session: Session, name: string, spec: CommandSpec, args: Buffer[]): Encoded {
  const multi = session.multi
  if (multi === null) throw new Error('queue outside MULTI')
  // The arguments are views into the parser's joined chunks, which are never
  // written again: keeping them is safe, and costs no copy.
  multi.queued.push({ name, spec, args })
  if (spec.write === true) multi.writes = true
  return QUEUED
}

/**
 * A command refused before it ran (unknown, wrong arity, NOAUTH, MISCONF):
 * inside MULTI it dooms the transaction; EXEC refused so discards it, with the
 * reason in an EXECABORT (Redis's `rejectCommand`).
 */
export function refusedInTransaction (ctx: CommandContext, args: Buffer[], reply: string): string {
  const session = ctx.session
  if (session.multi !== null) session.multi.failed = true
  const name = args[0] as Buffer
  if (name.length !== 4 || name.toString('latin1').toLowerCase() !== 'exec') return reply
  discard(ctx)
  // `-ERR reason\r\n` → `reason`; other codes (NOAUTH, MISCONF, LOADING) stay.
  let reason = reply.slice(1, -2)
  if (reason.startsWith('ERR ')) reason = reason.slice(4)
  return error(errorText('execAbortBecause', reason))
}

function multi (ctx: CommandContext): Encoded {
  const session = ctx.session
  if (session.multi !== null) return error(ERRORS.nestedMulti) // does not doom the transaction, as in Redis
  session.multi = { queued: [], failed: false, writes: false, wrote: false }
  return OK
}

function discardCommand (ctx: CommandContext): Encoded {
  if (ctx.session.multi === null) return error(ERRORS.discardWithoutMulti)
  discard(ctx)
  return OK
}

function watch (ctx: CommandContext, args: Buffer[]): Encoded {
  const session = ctx.session
  if (session.multi !== null) return error(ERRORS.watchInMulti) // does not doom the transaction either
  let w = session.watching
  if (w?.dirty === true) return OK // EXEC will fail anyway: no point watching more
  const store = ctx.node.store
  const registry = watchedKeys(store)
  const now = store.now()
  if (w === null) {
    w = { dirty: false, keys: new Map() }
    session.watching = w
  }
  for (let i = 1; i < args.length; i++) {
    const key = keyOf(args[i])
    if (w.keys.has(key)) continue
    const entry = store.peek(key) // not get(): watching reclaims nothing
    w.keys.set(key, entry !== undefined && isLive(entry, now))
    registry.add(w, key)
  }
  return OK
}

function unwatch (ctx: CommandContext): Encoded {
  unwatchAll(ctx)
  return OK
}

/**
 * EXEC: the queued commands' replies in one array, each command's error in its
 * place; every command runs in this one synchronous step, so no client here
 * sees part of it, and `atomically` sends its writes to the peers as one unit.
 */
function exec (ctx: CommandContext): Encoded | Promise<Encoded> {
  const session = ctx.session
  const tx = session.multi
  if (tx === null) return error(ERRORS.execWithoutMulti)
  // PROTOCOL.md §Order of checks: as a write command would be, before anything else.
  if (tx.writes) {
    const refusal = ctx.node.writeRefusal?.() ?? null
    if (refusal !== null) {
      discard(ctx)
      return error(errorText('execAbortBecause', refusal))
    }
  }
  if (tx.failed) {
    discard(ctx)
    return error(ERRORS.execAbort)
  }
  const hold = watchesHold(ctx)
  discard(ctx)
  if (!hold) return NIL_ARRAY
  const replies: Array<Encoded | Promise<Encoded>> = new Array(tx.queued.length)
  let waits = false
  const work = (): void => {
    for (let i = 0; i < tx.queued.length; i++) {
      const { name, spec, args } = tx.queued[i] as (typeof tx.queued)[number]
      const reply = call(ctx, name, spec, args) // counted and timed one by one, as Redis does
      if (typeof reply !== 'string' && !Buffer.isBuffer(reply)) waits = true
      if (spec.write === true) tx.wrote = true
      replies[i] = reply
    }
  }
  if (ctx.node.atomically === undefined) work()
  else ctx.node.atomically(work)
  // A command that answers later (WAIT) has already done its part; only its reply is awaited.
  return waits ? Promise.all(replies).then(array) : array(replies as Encoded[])
}

export const transactionCommands: CommandTable = {
  multi: { handler: multi, arity: 1, runsInMulti: true, summary: 'MULTI: starts a transaction; later commands are queued (+QUEUED) until EXEC or DISCARD' },
  exec: { handler: exec, arity: 1, runsInMulti: true, summary: 'EXEC: runs the queued commands as one unit; their replies as an array, or nil if a watched key changed' },
  discard: { handler: discardCommand, arity: 1, runsInMulti: true, summary: 'DISCARD: drops the queued commands and the watches' },
  watch: { handler: watch, arity: -2, runsInMulti: true, keys: [1, -1, 1], summary: 'WATCH key [key ...]: the next EXEC fails (nil) if any of these keys changes first' },
  unwatch: { handler: unwatch, arity: 1, summary: 'UNWATCH: forgets every watched key' }
}
