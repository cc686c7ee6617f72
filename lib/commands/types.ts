import type { Encoded } from '../protocol/reply.js'
import type { Store } from '../store/store.js'
import type { LiveTarget, NodeOptions } from '../options.js'
import type { Logger } from '../log.js'

/** A command queued between MULTI and EXEC. */
export interface Queued {
  /** The command's name in the table (for INFO commandstats and SLOWLOG). */
  readonly name: string
  readonly spec: CommandSpec
  readonly args: Buffer[]
}

/** A connection between MULTI and EXEC (PROTOCOL.md §Transactions). */
export interface Transaction {
  readonly queued: Queued[]
  /** A command was refused while queueing (unknown, arity, ...): EXEC answers EXECABORT. */
  failed: boolean
  /** Some queued command writes: EXEC is refused while writes are (MISCONF, joining). */
  writes: boolean
  /** EXEC ran a write: its reply waits for the write barrier, as a write's does. */
  wrote: boolean
}

/** A connection's WATCHed keys. */
export interface Watching {
  /** A watched key changed: the next EXEC answers a nil array. The keys are let go then. */
  dirty: boolean
  /** Each key, and whether it held a live value when watched (one that expires since counts as a change). */
  readonly keys: Map<string, boolean>
}

/** Per-connection state that commands may read and change. */
export interface Session {
  readonly id: number
  /** Remote address, host:port. */
  readonly addr: string
  readonly createdAt: number
  name: string
  authenticated: boolean
  /** Set by QUIT: close once the replies so far are sent. */
  closeAfterReply: boolean
  lastCommand: string
  lastCommandAt: number
  /** Marks a connection from another node (it sent a peer command). */
  isPeer: boolean
  /**
   * Why this connection may not become a peer (send GOSSIP or JOIN): its TLS
   * certificate did not verify against the CA (PROTOCOL.md §TLS); null if it may.
   */
  readonly peerRefusal: string | null
  /** A peer connection: the node id it gave in GOSSIP. */
  peerId?: string
  /** A peer connection: it has sent SYNCED (its link-up sync to us is done). */
  peerSynced?: boolean
  /** A peer connection: when its latest peer command arrived (runtime ms). */
  peerHeardAt?: number
  /**
   * When the connection was accepted, by the node's runtime clock (ms): a peer
   * link's silence before its first peer command is measured from it (bytes a
   * cut held since the link opened are as stale as any). Absent: not measured.
   */
  readonly openedAt?: number
  /** The connection is gone (work waiting for it may stop). */
  closed: boolean
  /**
   * The client has stopped sending (FIN). It may be half-closed and reading, or
   * gone for good: nothing tells the two apart, so a WAIT answers at once
   * rather than hold the connection open (PROTOCOL.md §End of input).
   */
  inputEnded: boolean
  /** Between MULTI and EXEC/DISCARD: the queued commands; null otherwise (PROTOCOL.md §Transactions). */
  multi: Transaction | null
  /** The keys WATCHed since the last EXEC, DISCARD or UNWATCH; null when none. */
  watching: Watching | null
}

/** One line of INFO commandstats (PROTOCOL.md §INFO). */
export interface CommandStat {
  /** Runs of its handler, failed ones included. */
  calls: number
  /** Time in its handler, µs, summed (fractions kept). */
  usec: number
  /** Refused before running: wrong arity, NOAUTH, MISCONF, LOADING. */
  rejected: number
  /** Ran and answered an error. */
  failed: number
  /** A command with subcommands (CONFIG, CLIENT, ...): its runs are counted as `name|sub`. */
  readonly container: boolean
}

/** One SLOWLOG entry (PROTOCOL.md §SLOWLOG). */
export interface SlowlogEntry {
  readonly id: number
  /** Unix time, seconds, when the command ran. */
  readonly time: number
  /** µs in the handler, whole. */
  readonly duration: number
  /** At most 32 arguments, each at most 128 bytes and a note of what was cut; copies, not views. */
  readonly args: Buffer[]
  readonly addr: string
  readonly name: string
}

export interface ServerStats {
  startedAt: number
  connectionsReceived: number
  rejectedConnections: number
  /** Commands run (rejected and queued ones are not; each of an EXEC's is), as Redis counts them. */
  commandsProcessed: number
  netInputBytes: number
  netOutputBytes: number
  /** Operations per second over the last couple of seconds. */
  opsPerSec: () => number
  /** INFO commandstats by `name` or `name|sub`, created on first use. */
  readonly commands: Map<string, CommandStat>
  /** INFO errorstats: error replies by their first word (`ERR`, `WRONGTYPE`, ...). */
  readonly errors: Map<string, number>
  /** Every error reply sent (INFO total_error_replies). */
  errorReplies: number
  /** SLOWLOG, oldest first; `slowlogNextId` is the id of the next entry. */
  readonly slowlog: SlowlogEntry[]
  slowlogNextId: number
}

/** What commands see of the node's data directory (FORMAT.md). */
export interface Durability {
  /** The MISCONF error text while the log cannot be written (writes are refused); null when it can. */
  readonly failure: string | null
  /** The data directory, absolute. */
  readonly dir: string
  /** --fsync. */
  readonly fsync: string
  /** Starts a compaction (BGREWRITEAOF); false if one is running. */
  compact: () => boolean
  /** Fields of INFO persistence. */
  info: () => Record<string, string | number>
}

/** What commands see of the node: the store, options, stats, clients. */
export interface NodeContext extends LiveTarget {
  readonly store: Store
  readonly options: NodeOptions
  readonly stats: ServerStats
  readonly log: Logger
  readonly version: string
  /** The address clients and peers reach this node at. */
  readonly address: () => { host: string, port: number }
  readonly sessions: () => Iterable<Session>
  /** Extra INFO sections (the cluster adds one). */
  readonly infoSections: Map<string, () => string>
  /** The data directory; null when the node keeps its data in memory only. */
  readonly durability: Durability | null
  /**
   * Why write commands are refused now (the error text), or null: the log
   * cannot be written (MISCONF), or the node is joining its cluster and takes
   * none until it is up (PROTOCOL.md §Order of checks, §Joining).
   */
  readonly writeRefusal?: () => string | null
  /**
   * Runs `work` (synchronous) so that the writes it makes reach every peer as
   * one unit (PROTOCOL.md §Transactions): EXEC. Without it, work just runs.
   */
  readonly atomically?: <T>(work: () => T) => T
}

export interface CommandContext {
  readonly node: NodeContext
  readonly session: Session
}

/** Every handler has this shape; args[0] is the command name as sent. */
export type Handler = (ctx: CommandContext, args: Buffer[]) => Encoded | Promise<Encoded>

export interface CommandSpec {
  handler: Handler
  /** Redis convention: n exactly n arguments (name included); -n at least n. */
  arity: number
  /** Changes data: the reply waits for replication (PROTOCOL.md §Acknowledgement). */
  write?: boolean
  /** Runs at once between MULTI and EXEC instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT, as Redis). */
  runsInMulti?: boolean
  /** Allowed before AUTH. */
  noAuth?: boolean
  /**
   * A container command (OBJECT, CONFIG, CLIENT, COMMAND): its subcommands in
   * lower case, each with its arity counted as Redis does (the container's
   * name included). An unknown subcommand or a wrong count is refused before
   * the command runs, inside MULTI too (PROTOCOL.md §Order of checks).
   */
  subcommands?: Readonly<Record<string, number>>
  /** Key positions for COMMAND: first, last (-1 the end), step. */
  keys?: [number, number, number]
  /** One line for people reading the table: the syntax and what it answers. */
  summary: string
}

export type CommandTable = Record<string, CommandSpec>
