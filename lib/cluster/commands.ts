import { CommandError, integerArg, text } from '../commands/args.js'
import { ERRORS, errorText } from '../commands/errors.js'
import type { CommandContext, CommandTable } from '../commands/types.js'
import { parseAddress } from '../options.js'
import { bulkArray, integer, OK, type Encoded } from '../protocol/reply.js'
import { BUCKETS } from '../store/store.js'
import { MAX_GOSSIP_MEMBERS, type Cluster } from './cluster.js'
import type { Entry } from '../store/entry.js'
import { decodeEntry, forEachMreplEntry, MREPL_FIELDS, NODE_ID } from './entry-codec.js'
import { membersReply } from './info.js'
import { encodePage, page, PAGE_BUCKETS } from './sync.js'

// PROTOCOL.md §Cluster: JOIN, SYNC, REPL, MEMBERS, WAIT, and the peer-only GOSSIP and SYNCED.

function addressArg (arg: Buffer | undefined): string {
  const addr = text(arg)
  try {
    parseAddress(addr)
  } catch {
    throw new CommandError(ERRORS.badAddress)
  }
  return addr
}

/** REPL, MREPL and SYNCED come from peer links, which introduce themselves with GOSSIP first. */
function peerOnly (ctx: CommandContext, args: Buffer[]): void {
  if (!ctx.session.isPeer) throw new CommandError(errorText('peersOnly', text(args[0]).toUpperCase()))
}

/** A node that cannot log refuses replicated writes too; the peer sends its state again when we are back. */
function refuseWhileNotLogging (ctx: CommandContext): void {
  const refusal = ctx.node.durability?.failure
  if (refusal != null) throw new CommandError(refusal)
}

export function clusterCommands (cluster: Cluster): CommandTable {
  /** JOIN host:port — that node joins this node's cluster; the reply lists every member. */
  function join (_ctx: CommandContext, args: Buffer[]): Encoded {
    const addr = addressArg(args[1])
    if (addr === cluster.advertise) throw new CommandError(ERRORS.joinSelf)
    return bulkArray(cluster.admit(addr))
  }

  /** SYNC [cursor [count]] — one page of this node's state. */
  function sync (_ctx: CommandContext, args: Buffer[]): Encoded {
    const cursor = args.length > 1 ? integerArg(args[1]) : 0
    const count = args.length > 2 ? integerArg(args[2]) : undefined
    if (cursor < 0 || cursor >= BUCKETS) throw new CommandError(ERRORS.invalidCursor)
    if (count !== undefined && count < 1) throw new CommandError(ERRORS.syntax)
    if (args.length > 3) throw new CommandError(ERRORS.syntax)
    // At most a page per call, whatever the count: one call must not serialise the whole store.
    const p = page(cluster.store, cursor, Math.min(count ?? PAGE_BUCKETS, PAGE_BUCKETS))
    if (p.next === 0) cluster.fullSyncsServed++
    return encodePage(p)
  }

  /** REPL key wall logical node expiresAt [value] — a write (or, without value, a delete) from a peer. */
  function repl (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(ctx, args)
    if (args.length > 7) throw new CommandError(ERRORS.syntax)
    refuseWhileNotLogging(ctx)
    const { key, entry } = decodeEntry(args, 1, args[6] ?? null)
    let bytes = 0
    for (const a of args) bytes += a.length
    cluster.applyRemote(ctx.session, key, entry)
    cluster.received(ctx.session, 1, bytes)
    return OK
  }

  /** Decoded MREPL entries land here one by one; the store copies what it keeps. */
  const scratch: Entry = { wall: 0, logical: 0, node: '', expiresAt: 0, value: null }

  /** MREPL node (op key wall logical expiresAt value)... — a batch of one writer's entries (peers). */
  function mrepl (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(ctx, args)
    refuseWhileNotLogging(ctx)
    if ((args.length - 2) % MREPL_FIELDS !== 0) throw new CommandError(ERRORS.syntax)
    let bytes = 0
    for (const a of args) bytes += a.length
    let applied = 0
    forEachMreplEntry(args, scratch, (key, entry) => { if (cluster.applyRemote(ctx.session, key, entry)) applied++ })
    cluster.received(ctx.session, (args.length - 2) / MREPL_FIELDS, bytes)
    return integer(applied)
  }

  function members (): Encoded {
    return membersReply(cluster)
  }

  /** GOSSIP addr id state [member ...] — a peer's handshake and heartbeat. */
  function gossip (ctx: CommandContext, args: Buffer[]): Encoded {
    const from = addressArg(args[1])
    const id = text(args[2])
    if (!NODE_ID.test(id)) throw new CommandError(ERRORS.badNodeId)
    if (args.length - 4 > MAX_GOSSIP_MEMBERS) throw new CommandError(errorText('tooManyMembers', String(MAX_GOSSIP_MEMBERS)))
    const addrs = args.slice(4).map(text)
    return bulkArray(cluster.gossipFrom(ctx.session, from, id, text(args[3]), addrs))
  }

  /** SYNCED addr — the peer at addr has sent us its whole state. */
  function synced (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(ctx, args)
    cluster.synced(ctx.session, text(args[1]))
    return OK
  }

  /** WAIT numreplicas timeout — Redis's meaning: how many peers hold every write so far. */
  function wait (ctx: CommandContext, args: Buffer[]): Encoded | Promise<Encoded> {
    const wanted = integerArg(args[1])
    const timeout = integerArg(args[2])
    if (timeout < 0) throw new CommandError(ERRORS.negativeTimeout)
    return cluster.waitForAcks(ctx.session, wanted, timeout).then(integer)
  }

  return {
    join: { handler: join, arity: 2, summary: 'JOIN host:port: that node joins this cluster; the reply lists every member' },
    sync: { handler: sync, arity: -1, summary: 'SYNC [cursor [count]]: one page of this node\'s state, [next-cursor, entries]' },
    repl: { handler: repl, arity: -6, summary: 'REPL key wall logical node expiresAt [value]: a replicated write or delete (peers)' },
    mrepl: { handler: mrepl, arity: -8, summary: 'MREPL node op key wall logical expiresAt value [...]: a batch of one writer\'s writes and deletes (peers)' },
    members: { handler: members, arity: 1, summary: 'MEMBERS: every known node, "<address> <state> [self] ..."' },
    gossip: { handler: gossip, arity: -4, summary: 'GOSSIP address id state [member ...]: peer handshake and heartbeat' },
    synced: { handler: synced, arity: 2, summary: 'SYNCED address: that peer has sent its whole state (peers)' },
    wait: { handler: wait, arity: 3, summary: 'WAIT numreplicas timeout: peers holding every write so far' }
  }
}
