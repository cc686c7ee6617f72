import { LOG_LEVELS, type LogLevel } from './log.js'
import { FSYNC_POLICIES, type FsyncPolicy } from './persistence/append-log.js'
import { DEFAULT_LIMITS } from './protocol/request-parser.js'

/** Everything a node can be told at start-up (README.md §Configuration). */
export interface NodeOptions {
  /** Address to listen on; peer connections also originate from it when it is a specific IP. Default 127.0.0.1. */
  host: string
  /** TCP port; 0 takes an ephemeral one. Undefined: 1989, or the next free of 1990..2088. */
  port: number | undefined
  /** HOST:PORT this node gives to peers. Default host:port. */
  advertise: string | undefined
  /** HOST:PORT of a member of the cluster to join. Default: none, a one-node cluster. */
  join: string | undefined
  /** Where the node keeps its data. Undefined: keystone-data/<port> under the working directory. '': memory only. */
  dataDir: string | undefined
  /** Keep data on disk; false (--no-persist) is memory only, as --data-dir ''. Default true. */
  persist: boolean
  /** When the log reaches the disk (FORMAT.md §Durability): always | everysec | no. Default everysec. */
  fsync: FsyncPolicy
  /** At start-up, skip damaged records in the middle of a log or snapshot instead of refusing to start. Default false. */
  repairLog: boolean
  /** No automatic compaction before the logs hold this many bytes. Default 64 MiB. */
  compactMinSize: number
  /** Compact when the logs exceed this percentage of the snapshot's size; 0: only on BGREWRITEAOF. Default 100. */
  compactPercentage: number
  /** Password for clients and peers; '' for none. */
  requirepass: string
  /** Most client connections at once (Redis's maxclients). Default 10000. */
  maxclients: number
  /** Close a client idle for this many seconds; 0 never. Default 0. */
  timeout: number
  /** TCP keepalive interval, seconds, to notice half-open sockets; 0 off. Default 60. */
  tcpKeepalive: number
  /** Longest inline command line, bytes. Default 64 KiB. */
  maxInlineLen: number
  /** Largest bulk string in a request, bytes. Default 512 MB. */
  maxBulkLen: number
  /** Most arguments in one request. Default 1048576. */
  maxMultibulkLen: number
  /** Unsent reply bytes past which the node stops reading a client until it catches up. Default 1 MiB. */
  clientOutputSoftLimit: number
  /** Unsent reply bytes past which the node drops a client. Default 256 MiB. */
  clientOutputHardLimit: number
  /** debug | info | warn | error. Default info. */
  loglevel: LogLevel
  /**
   * Seconds a member may be down before this node removes it from the cluster on
   * its own, as FORGET would; only while this node reaches a majority of the
   * members (PROTOCOL.md §Member removal). 0: never. Default 0.
   */
  memberTimeout: number
  /** TEST ONLY: ms added to this node's physical clock, to simulate a clock that runs ahead. Default 0. */
  clockOffsetMs: number
  /** ms a tombstone stays after it became collectable (in-flight batches land first). */
  tombstoneGraceMs: number
  /** Log commands whose handler ran at least this many µs (PROTOCOL.md §SLOWLOG); -1 none, 0 every one. Default 10000. */
  slowlogLogSlowerThan: number
  /** Most entries the slowlog keeps (the oldest go first). Default 128. */
  slowlogMaxLen: number
}

export const DEFAULT_PORT = 1989
/** Without --port, a busy 1989 makes the node try these next (as the original Keystone did). */
export const FALLBACK_PORTS: readonly [number, number] = [1990, 2088]

export const DEFAULTS: NodeOptions = {
  host: '127.0.0.1',
  port: undefined,
  advertise: undefined,
  join: undefined,
  dataDir: undefined,
  persist: true,
  fsync: 'everysec',
  repairLog: false,
  compactMinSize: 64 * 1024 * 1024,
  compactPercentage: 100,
  requirepass: '',
  maxclients: 10000,
  timeout: 0,
  tcpKeepalive: 60,
  maxInlineLen: DEFAULT_LIMITS.inlineMax,
  maxBulkLen: DEFAULT_LIMITS.bulkMax,
  maxMultibulkLen: DEFAULT_LIMITS.multibulkMax,
  clientOutputSoftLimit: 1024 * 1024,
  clientOutputHardLimit: 256 * 1024 * 1024,
  loglevel: 'info',
  memberTimeout: 0,
  clockOffsetMs: 0,
  tombstoneGraceMs: 10_000,
  slowlogLogSlowerThan: 10_000,
  slowlogMaxLen: 128
}

type Kind = 'string' | 'integer' | 'signed' | 'address' | 'loglevel' | 'boolean' | 'fsync'

/** The command-line flag (and KEYSTONE_ environment variable) of each option, for bin/ and --help. */
export const FLAGS: ReadonlyArray<{ key: keyof NodeOptions, flag: string, kind: Kind, help: string }> = [
  { key: 'host', flag: 'host', kind: 'string', help: 'address to listen on; peers are dialled from it too (default 127.0.0.1)' },
  { key: 'port', flag: 'port', kind: 'integer', help: 'port, 0 for an ephemeral one (default 1989, else the next free of 1990..2088)' },
  { key: 'advertise', flag: 'advertise', kind: 'address', help: 'HOST:PORT given to peers (default host:port)' },
  { key: 'join', flag: 'join', kind: 'address', help: 'HOST:PORT of any member of the cluster to join' },
  { key: 'dataDir', flag: 'data-dir', kind: 'string', help: "data directory ('' for memory only; default ./keystone-data/<port>)" },
  { key: 'persist', flag: 'persist', kind: 'boolean', help: 'keep data on disk (default); --no-persist: memory only' },
  { key: 'fsync', flag: 'fsync', kind: 'fsync', help: 'always | everysec | no: when writes reach the disk (default everysec)' },
  { key: 'repairLog', flag: 'repair-log', kind: 'boolean', help: 'start despite damaged records in the data, skipping them (default off)' },
  { key: 'compactMinSize', flag: 'compact-min-size', kind: 'integer', help: 'compact the log no sooner than this many bytes (default 67108864)' },
  { key: 'compactPercentage', flag: 'compact-percentage', kind: 'integer', help: 'compact when the log exceeds this % of the snapshot, 0 never (default 100)' },
  { key: 'requirepass', flag: 'requirepass', kind: 'string', help: 'password for clients and peers' },
  { key: 'maxclients', flag: 'maxclients', kind: 'integer', help: 'most client connections (default 10000)' },
  { key: 'timeout', flag: 'timeout', kind: 'integer', help: 'close clients idle this many seconds, 0 never (default 0)' },
  { key: 'tcpKeepalive', flag: 'tcp-keepalive', kind: 'integer', help: 'TCP keepalive seconds, 0 off (default 60)' },
  { key: 'maxInlineLen', flag: 'max-inline-len', kind: 'integer', help: 'longest inline command, bytes (default 65536)' },
  { key: 'maxBulkLen', flag: 'max-bulk-len', kind: 'integer', help: 'largest bulk string, bytes (default 536870912)' },
  { key: 'maxMultibulkLen', flag: 'max-multibulk-len', kind: 'integer', help: 'most arguments per command (default 1048576)' },
  { key: 'clientOutputSoftLimit', flag: 'client-output-soft-limit', kind: 'integer', help: 'pause reading a client past this many unsent reply bytes (default 1048576)' },
  { key: 'clientOutputHardLimit', flag: 'client-output-hard-limit', kind: 'integer', help: 'drop a client past this many unsent reply bytes (default 268435456)' },
  { key: 'loglevel', flag: 'loglevel', kind: 'loglevel', help: 'debug | info | warn | error (default info)' },
  { key: 'tombstoneGraceMs', flag: 'tombstone-grace-ms', kind: 'integer', help: 'ms a tombstone is kept after every member holds it, for writes still in flight (default 10000)' },
  { key: 'memberTimeout', flag: 'member-timeout', kind: 'integer', help: 'remove a member down this many seconds, while this node reaches a majority; 0 never (default 0)' },
  { key: 'clockOffsetMs', flag: 'clock-offset-ms', kind: 'integer', help: 'TEST ONLY: ms added to this node\'s clock (default 0)' },
  { key: 'slowlogLogSlowerThan', flag: 'slowlog-log-slower-than', kind: 'signed', help: 'SLOWLOG the commands that run this many µs or more; 0 every one, -1 none, as --slowlog-log-slower-than=-1 (default 10000)' },
  { key: 'slowlogMaxLen', flag: 'slowlog-max-len', kind: 'integer', help: 'most SLOWLOG entries kept (default 128)' }
]

/** Options given as strings (flags, environment) become typed options, or a clear TypeError. */
export function resolveOptions (given: Partial<Record<keyof NodeOptions, string | number | undefined>>): NodeOptions {
  const options: NodeOptions = { ...DEFAULTS }
  const target = options as unknown as Record<string, unknown>
  for (const { key, flag, kind } of FLAGS) {
    const raw = given[key]
    if (raw === undefined) continue
    const text = String(raw)
    switch (kind) {
      case 'integer': {
        const n = Number(text)
        if (text.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new TypeError(`--${flag} must be a non-negative integer, got '${text}'`)
        target[key] = n
        break
      }
      case 'signed': {
        const n = Number(text)
        if (text.trim() === '' || !Number.isSafeInteger(n) || n < -1) throw new TypeError(`--${flag} must be an integer, -1 or more, got '${text}'`)
        target[key] = n
        break
      }
      case 'address':
        parseAddress(text, `--${flag}`)
        target[key] = text
        break
      case 'boolean': {
        // `--flag` alone gives '' (present); `--no-flag` gives 'false'.
        const word = text.toLowerCase()
        if (['', 'true', 'yes', '1', 'on'].includes(word)) target[key] = true
        else if (['false', 'no', '0', 'off'].includes(word)) target[key] = false
        else throw new TypeError(`--${flag} takes no value (or yes/no), got '${text}'`)
        break
      }
      case 'fsync':
        if (!(FSYNC_POLICIES as readonly string[]).includes(text)) throw new TypeError(`--${flag} must be one of ${FSYNC_POLICIES.join(', ')}, got '${text}'`)
        target[key] = text
        break
      case 'loglevel':
        if (!(LOG_LEVELS as string[]).includes(text)) throw new TypeError(`--${flag} must be one of ${LOG_LEVELS.join(', ')}, got '${text}'`)
        target[key] = text
        break
      default:
        target[key] = text
    }
  }
  validateOptions(options)
  return options
}

/** Checks typed options (from flags or from code); a clear TypeError for the first bad one. */
export function validateOptions (options: NodeOptions): void {
  const counts: Array<keyof NodeOptions> = ['maxclients', 'timeout', 'tcpKeepalive', 'maxInlineLen', 'maxBulkLen', 'maxMultibulkLen', 'clientOutputSoftLimit', 'clientOutputHardLimit', 'compactMinSize', 'compactPercentage', 'memberTimeout', 'clockOffsetMs', 'tombstoneGraceMs', 'slowlogMaxLen']
  for (const key of counts) {
    const value = options[key]
    const flag = FLAGS.find(f => f.key === key)?.flag ?? key
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`--${flag} must be a non-negative integer, got ${String(value)}`)
  }
  if (!Number.isSafeInteger(options.slowlogLogSlowerThan) || options.slowlogLogSlowerThan < -1) {
    throw new TypeError(`--slowlog-log-slower-than must be an integer, -1 or more, got ${String(options.slowlogLogSlowerThan)}`)
  }
  if (options.port !== undefined && (!Number.isSafeInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new TypeError(`--port must be 0..65535, got ${String(options.port)}`)
  }
  if (!(LOG_LEVELS as string[]).includes(options.loglevel)) throw new TypeError(`--loglevel must be one of ${LOG_LEVELS.join(', ')}`)
  if (!(FSYNC_POLICIES as readonly string[]).includes(options.fsync)) throw new TypeError(`--fsync must be one of ${FSYNC_POLICIES.join(', ')}`)
  if (options.maxclients < 1) throw new TypeError('--maxclients must be at least 1')
  if (options.clientOutputHardLimit < options.clientOutputSoftLimit) {
    throw new TypeError('--client-output-hard-limit must not be below --client-output-soft-limit')
  }
}

/** 'host:port' (or '[v6]:port') as parts; a TypeError naming `what` otherwise. */
export function parseAddress (text: string, what = 'address'): { host: string, port: number } {
  const m = /^\[?([^\s[\]]+?)\]?:(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port < 1 || port > 65535) throw new TypeError(`${what} must be HOST:PORT, got '${text}'`)
  return { host: m[1] as string, port }
}
