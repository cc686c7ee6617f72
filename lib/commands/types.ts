import type { Encoded } from '../protocol/reply.js'
import type { Store } from '../store/store.js'
import type { NodeOptions } from '../options.js'
import type { Logger } from '../log.js'

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
  /** A peer connection: the node id it gave in GOSSIP. */
  peerId?: string
  /** A peer connection: it has sent SYNCED (its link-up sync to us is done). */
  peerSynced?: boolean
  /** The connection is gone (work waiting for it may stop). */
  closed: boolean
  /**
   * The client has stopped sending (FIN). It may be half-closed and reading, or
   * gone for good: nothing tells the two apart, so a WAIT answers at once
   * rather than hold the connection open (PROTOCOL.md §End of input).
   */
  inputEnded: boolean
}

export interface ServerStats {
  startedAt: number
  connectionsReceived: number
  rejectedConnections: number
  commandsProcessed: number
  netInputBytes: number
  netOutputBytes: number
  /** Operations per second over the last couple of seconds. */
  opsPerSec: () => number
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
export interface NodeContext {
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
  /** Allowed before AUTH. */
  noAuth?: boolean
  /** Key positions for COMMAND: first, last (-1 the end), step. */
  keys?: [number, number, number]
  /** One line for people reading the table: the syntax and what it answers. */
  summary: string
}

export type CommandTable = Record<string, CommandSpec>
