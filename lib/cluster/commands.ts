import { CommandError, integerArg, text } from '../commands/args.js'
import { ERRORS, errorText } from '../commands/errors.js'
import type { CommandContext, CommandTable } from '../commands/types.js'
import { parseAddress } from '../options.js'
import { array, bulk, bulkArray, integer, OK, type Encoded } from '../protocol/reply.js'
import { BUCKETS } from '../store/store.js'
import { MAX_GOSSIP_MEMBERS, type Cluster } from './cluster.js'
import type { Entry } from '../store/entry.js'
import { decodeEntry, forEachMreplEntry, integerField, logicalField, MREPL_FIELDS, NODE_ID, nodeField } from './entry-codec.js'
import { membersReply } from './info.js'
import { bucketArg, entriesReply, maskArg, MAX_ENTRY_BUCKETS, MAX_LEAF_BUCKETS } from './anti-entropy.js'
import { encodePage, page, PAGE_BUCKETS } from './sync.js'

// PROTOCOL.md §Cluster: JOIN, SYNC, REPL, MEMBERS, WAIT, DIGEST, ENTRIES, and the
// peer-only GOSSIP, SYNCED and STABLE.

function addressArg (arg: Buffer | undefined): string {
  const addr = text(arg)
  try {
    parseAddress(addr)
  } catch {
    throw new CommandError(ERRORS.badAddress)
  }
  return addr
}

/**
 * REPL, MREPL and SYNCED come from peer links, which introduce themselves with
 * GOSSIP first; never from a node removed from the cluster (PROTOCOL.md §Member removal).
 */
function peerOnly (cluster: Cluster, ctx: CommandContext, args: Buffer[]): void {
  if (!ctx.session.isPeer) throw new CommandError(errorText('peersOnly', text(args[0]).toUpperCase()))
  refuseStale(cluster, ctx)
  const id = ctx.session.peerId
  if (id !== undefined && cluster.retired.has(id)) throw new CommandError(errorText('removed', id))
  if (cluster.removedReason !== null) throw new CommandError(errorText('left', cluster.nodeId))
}

/**
 * A peer's link that went silent past the failure timeout has been given up
 * by the peer, which dials again and syncs: what arrives on it now was held
 * in a cut that long, and could bring back what this node has collected
 * meanwhile (PROTOCOL.md §Tombstones). Refused, and the connection closed.
 */
function refuseStale (cluster: Cluster, ctx: CommandContext): void {
  const silent = cluster.silenceOf(ctx.session)
  if (silent === 0) return
  ctx.session.closeAfterReply = true
  throw new CommandError(errorText('staleStream', String(silent)))
}

/** A node that cannot log refuses replicated writes too; the peer sends its state again when we are back. */
function refuseWhileNotLogging (ctx: CommandContext): void {
  const refusal = ctx.node.durability?.failure
  if (refusal != null) throw new CommandError(refusal)
}

/** A refused would-be peer is logged again after this long, ms: it redials every second. */
const REFUSAL_LOG_EVERY_MS = 60_000

export function clusterCommands (cluster: Cluster): CommandTable {
  /** When each (remote host, reason) refusal was last logged. */
  const refusalsLogged = new Map<string, number>()

  /**
   * PROTOCOL.md §TLS: with a CA, a connection whose certificate did not verify
   * cannot become a peer (GOSSIP) nor bring one in (JOIN), whatever
   * tls-auth-clients lets it do as a client.
   */
  function trustedPeer (ctx: CommandContext, args: Buffer[]): void {
    const refusal = ctx.session.peerRefusal
    if (refusal === null) return
    const name = text(args[0]).toUpperCase()
    const host = ctx.session.addr.replace(/:\d+$/, '')
    const now = cluster.runtime.now()
    const key = `${host} ${refusal}`
    if (now - (refusalsLogged.get(key) ?? -Infinity) >= REFUSAL_LOG_EVERY_MS) {
      if (refusalsLogged.size > 1000) refusalsLogged.clear()
      refusalsLogged.set(key, now)
      cluster.log.warn(`refused ${name} from ${ctx.session.addr}: ${refusal}; a peer needs a certificate issued by the CA of tls-ca-cert-file`)
    }
    throw new CommandError(errorText('peerCert', name, refusal))
  }

  /** JOIN host:port [node-id] — that node joins this node's cluster; the reply lists every member. */
  function join (ctx: CommandContext, args: Buffer[]): Encoded {
    trustedPeer(ctx, args)
    const addr = addressArg(args[1])
    if (addr === cluster.advertise) throw new CommandError(ERRORS.joinSelf)
    if (args.length > 3) throw new CommandError(ERRORS.syntax)
    const id = args[2] === undefined ? '' : text(args[2])
    if (id !== '' && !NODE_ID.test(id)) throw new CommandError(ERRORS.badNodeId)
    const members = cluster.admit(addr, id)
    // PROTOCOL.md §JOIN: then the removed node ids, if any, as one array.
    const removed = [...cluster.retired.keys()]
    return removed.length === 0 ? bulkArray(members) : array([...members.map(m => bulk(m)), bulkArray(removed)])
  }

  /** FORGET address|node-id — removes that member from the cluster for good (PROTOCOL.md §Member removal). */
  function forget (ctx: CommandContext, args: Buffer[]): Encoded {
    cluster.forget(text(args[1]), ctx.session)
    return OK
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
    peerOnly(cluster, ctx, args)
    if (args.length > 7) throw new CommandError(ERRORS.syntax)
    refuseWhileNotLogging(ctx)
    const { key, entry } = decodeEntry(args, 1, args[6] ?? null)
    let bytes = 0
    for (const a of args) bytes += a.length
    cluster.applyRemote(key, entry)
    cluster.received(ctx.session, 1, bytes)
    return OK
  }

  /** Decoded MREPL entries land here one by one; the store copies what it keeps. */
  const scratch: Entry = { wall: 0, logical: 0, node: '', expiresAt: 0, value: null }

  /** MREPL node (op key wall logical expiresAt value)... — a batch of one writer's entries (peers). */
  function mrepl (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(cluster, ctx, args)
    refuseWhileNotLogging(ctx)
    if ((args.length - 2) % MREPL_FIELDS !== 0) throw new CommandError(ERRORS.syntax)
    let bytes = 0
    for (const a of args) bytes += a.length
    let applied = 0
    forEachMreplEntry(args, scratch, (key, entry) => { if (cluster.applyRemote(key, entry)) applied++ })
    cluster.received(ctx.session, (args.length - 2) / MREPL_FIELDS, bytes)
    return integer(applied)
  }

  function members (): Encoded {
    return membersReply(cluster)
  }

  /** GOSSIP addr id state [member ...] — a peer's handshake and heartbeat. */
  function gossip (ctx: CommandContext, args: Buffer[]): Encoded {
    trustedPeer(ctx, args)
    if (ctx.session.isPeer) refuseStale(cluster, ctx)
    const from = addressArg(args[1])
    const id = text(args[2])
    if (!NODE_ID.test(id)) throw new CommandError(ERRORS.badNodeId)
    if (args.length - 4 > MAX_GOSSIP_MEMBERS) throw new CommandError(errorText('tooManyMembers', String(MAX_GOSSIP_MEMBERS)))
    return bulkArray(cluster.gossipFrom(ctx.session, from, id, text(args[3]), args.slice(4).map(text)))
  }

  /** SYNCED addr [full|incremental|none] — the peer at addr has finished its link-up sync to us. */
  function synced (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(cluster, ctx, args)
    if (args.length > 3) throw new CommandError(ERRORS.syntax)
    cluster.synced(ctx.session, text(args[1]), args[2] === undefined ? 'full' : text(args[2]).toLowerCase())
    return OK
  }

  /** DIGEST [BUCKETS | LEAVES b ...] — the root digest, every bucket digest, or some buckets' leaf digests. */
  function digest (ctx: CommandContext, args: Buffer[]): Encoded {
    if (args.length > 1) cluster.asked(ctx.session)
    const d = cluster.store.digest
    if (args.length === 1) return bulk(d.rootHex())
    const form = text(args[1]).toUpperCase()
    if (form === 'BUCKETS' && args.length === 2) return bulk(d.bucketBytes())
    if (form !== 'LEAVES' || args.length < 3) throw new CommandError(ERRORS.syntax)
    if (args.length - 2 > MAX_LEAF_BUCKETS) throw new CommandError(errorText('tooManyBuckets', String(MAX_LEAF_BUCKETS)))
    return bulk(d.leafBytes(args.slice(2).map(bucketArg)))
  }

  /** ENTRIES b mask [b mask ...] — the entries of those leaves of those buckets. */
  function entries (ctx: CommandContext, args: Buffer[]): Encoded {
    cluster.asked(ctx.session)
    if (args.length % 2 === 0) throw new CommandError(ERRORS.syntax)
    if ((args.length - 1) / 2 > MAX_ENTRY_BUCKETS) throw new CommandError(errorText('tooManyBuckets', String(MAX_ENTRY_BUCKETS)))
    const pairs: Array<[number, number, number]> = []
    for (let i = 1; i < args.length; i += 2) pairs.push([bucketArg(args[i]), ...maskArg(args[i + 1])])
    return entriesReply(cluster.store, pairs)
  }

  /** STABLE node wall logical [age] — every member holds node's writes up to that timestamp (peers); age: ms since the relaying peer heard it. */
  function stable (ctx: CommandContext, args: Buffer[]): Encoded {
    peerOnly(cluster, ctx, args)
    if (args.length > 5) throw new CommandError(ERRORS.syntax)
    const node = nodeField(args[1])
    const wall = integerField(args[2], 'wall')
    const logical = logicalField(args[3])
    const age = args[4] === undefined ? 0 : integerField(args[4], 'age')
    cluster.convergence.stableFrom(ctx.session, node, { wall, logical }, age)
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
    join: { handler: join, arity: -2, summary: 'JOIN host:port [node-id]: that node joins this cluster; the reply lists every member' },
    forget: { handler: forget, arity: 2, summary: 'FORGET address|node-id: removes that member from the cluster for good' },
    sync: { handler: sync, arity: -1, summary: 'SYNC [cursor [count]]: one page of this node\'s state, [next-cursor, entries]' },
    repl: { handler: repl, arity: -6, summary: 'REPL key wall logical node expiresAt [value]: a replicated write or delete (peers)' },
    mrepl: { handler: mrepl, arity: -8, summary: 'MREPL node op key wall logical expiresAt value [...]: a batch of one writer\'s writes and deletes (peers)' },
    members: { handler: members, arity: 1, summary: 'MEMBERS: every known node, "<address> <state> [self] ..."' },
    gossip: { handler: gossip, arity: -4, summary: 'GOSSIP address id state [member ...]: peer handshake and heartbeat' },
    synced: { handler: synced, arity: -2, summary: 'SYNCED address [full|incremental|none]: that peer has finished its link-up sync (peers)' },
    digest: { handler: digest, arity: -1, summary: 'DIGEST [BUCKETS | LEAVES bucket ...]: the root digest, the bucket digests, or leaf digests' },
    entries: { handler: entries, arity: -3, summary: 'ENTRIES bucket mask [...]: the entries of those leaves, as a SYNC page' },
    stable: { handler: stable, arity: -4, summary: 'STABLE node wall logical [age]: every member holds that node\'s writes up to there (peers)' },
    wait: { handler: wait, arity: 3, summary: 'WAIT numreplicas timeout: peers holding every write so far' }
  }
}
