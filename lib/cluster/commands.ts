import { CommandError, integerArg, text } from '../commands/args.js'
import { ERRORS } from '../commands/errors.js'
import type { CommandContext, CommandTable } from '../commands/types.js'
import { parseAddress } from '../options.js'
import { bulkArray, integer, OK, type Encoded } from '../protocol/reply.js'
import { BUCKETS } from '../store/store.js'
import type { Cluster } from './cluster.js'
import { decodeEntry } from './entry-codec.js'
import { membersReply } from './info.js'
import { encodePage, page } from './sync.js'

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

/** How often WAIT looks at the acknowledgements, ms. */
const WAIT_POLL_MS = 10

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
    const p = page(cluster.store, cursor, count)
    if (p.next === 0) cluster.fullSyncsServed++
    return encodePage(p)
  }

  /** REPL key wall logical node expiresAt [value] — a write (or, without value, a delete) from a peer. */
  function repl (ctx: CommandContext, args: Buffer[]): Encoded {
    if (args.length > 7) throw new CommandError(ERRORS.syntax)
    // A node that cannot log refuses replicated writes too; the peer sends its state again when we are back.
    const refusal = ctx.node.durability?.failure
    if (refusal != null) throw new CommandError(refusal)
    const { key, entry } = decodeEntry(args, 1, args[6] ?? null)
    let bytes = 0
    for (const a of args) bytes += a.length
    cluster.applyRemote(ctx.session, key, entry, bytes)
    return OK
  }

  function members (): Encoded {
    return membersReply(cluster)
  }

  /** GOSSIP addr id state [member ...] — a peer's handshake and heartbeat. */
  function gossip (ctx: CommandContext, args: Buffer[]): Encoded {
    const from = addressArg(args[1])
    const addrs = args.slice(4).map(text)
    return bulkArray(cluster.gossipFrom(ctx.session, from, text(args[2]), text(args[3]), addrs))
  }

  /** SYNCED addr — the peer at addr has sent us its whole state. */
  function synced (ctx: CommandContext, args: Buffer[]): Encoded {
    cluster.synced(ctx.session, text(args[1]))
    return OK
  }

  /** WAIT numreplicas timeout — Redis's meaning: how many peers hold every write so far. */
  function wait (_ctx: CommandContext, args: Buffer[]): Encoded | Promise<Encoded> {
    const wanted = integerArg(args[1])
    const timeout = integerArg(args[2])
    if (timeout < 0) throw new CommandError(ERRORS.negativeTimeout)
    const now = cluster.acknowledgedBy()
    if (now >= wanted) return integer(now)
    const deadline = timeout === 0 ? Infinity : Date.now() + timeout
    return new Promise(resolve => {
      const timer = setInterval(() => {
        const acked = cluster.acknowledgedBy()
        if (acked >= wanted || Date.now() >= deadline) {
          clearInterval(timer)
          resolve(integer(acked))
        }
      }, WAIT_POLL_MS)
    })
  }

  return {
    join: { handler: join, arity: 2, summary: 'JOIN host:port: that node joins this cluster; the reply lists every member' },
    sync: { handler: sync, arity: -1, summary: 'SYNC [cursor [count]]: one page of this node\'s state, [next-cursor, entries]' },
    repl: { handler: repl, arity: -6, summary: 'REPL key wall logical node expiresAt [value]: a replicated write or delete (peers)' },
    members: { handler: members, arity: 1, summary: 'MEMBERS: every known node, "<address> <state> [self] ..."' },
    gossip: { handler: gossip, arity: -4, summary: 'GOSSIP address id state [member ...]: peer handshake and heartbeat' },
    synced: { handler: synced, arity: 2, summary: 'SYNCED address: that peer has sent its whole state (peers)' },
    wait: { handler: wait, arity: 3, summary: 'WAIT numreplicas timeout: peers holding every write so far' }
  }
}
