import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log.js'
import { FSYNC_POLICIES, type FsyncPolicy } from './persistence/append-log.js'
import { DEFAULT_LIMITS } from './protocol/request-parser.js'
import { TLS_AUTH_CLIENTS, tlsCrossCheck, type TlsAuthClients } from './server/tls.js'

/** Everything a node can be told at start-up (README.md §Configuration). */
export interface NodeOptions {
  /** The config file the options were read from (absolute), for CONFIG REWRITE; undefined: none. */
  configFile: string | undefined
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
  /** PEM certificate of this node; with tlsKeyFile the port speaks TLS only (PROTOCOL.md §TLS). '' (default): plain TCP. */
  tlsCertFile: string
  /** PEM private key of tlsCertFile. '' (default): none. */
  tlsKeyFile: string
  /** PEM CA certificate(s): peers' certificates must chain to it (both ways), clients' per tlsAuthClients. '' (default): none. */
  tlsCaCertFile: string
  /** yes: every client presents a certificate that verifies; optional: one, if presented, must verify; no (default): none needed. */
  tlsAuthClients: TlsAuthClients
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
  /** text (time, level, message) | json (one object per line: time, level, msg, fields). Default text. */
  logFormat: LogFormat
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
  /** Port of `GET /metrics` (Prometheus text) on host; 0 takes an ephemeral one. Undefined: off (the default). */
  metricsPort: number | undefined
}

export const DEFAULT_PORT = 1989
/** Without --port, a busy 1989 makes the node try these next (as the original Keystone did). */
export const FALLBACK_PORTS: readonly [number, number] = [1990, 2088]

export const DEFAULTS: NodeOptions = {
  configFile: undefined,
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
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsCaCertFile: '',
  tlsAuthClients: 'no',
  maxclients: 10000,
  timeout: 0,
  tcpKeepalive: 60,
  maxInlineLen: DEFAULT_LIMITS.inlineMax,
  maxBulkLen: DEFAULT_LIMITS.bulkMax,
  maxMultibulkLen: DEFAULT_LIMITS.multibulkMax,
  clientOutputSoftLimit: 1024 * 1024,
  clientOutputHardLimit: 256 * 1024 * 1024,
  loglevel: 'info',
  logFormat: 'text',
  memberTimeout: 0,
  clockOffsetMs: 0,
  tombstoneGraceMs: 10_000,
  slowlogLogSlowerThan: 10_000,
  slowlogMaxLen: 128,
  metricsPort: undefined
}

type Kind = 'string' | 'integer' | 'address' | 'loglevel' | 'boolean' | 'fsync' | 'logformat' | 'tlsauth'

/**
 * What a change made by CONFIG SET may need of the node beyond the new value in
 * its options (KeystoneNode implements it). PROTOCOL.md §CONFIG.
 */
export interface LiveTarget {
  readonly options: NodeOptions
  /** The logger filters at options.loglevel from its next line. */
  applyLogLevel: () => void
  /** Peer links dialled from now on authenticate with options.requirepass. */
  applyPassword: () => void
  /** The log is flushed to the disk as options.fsync says from now on. */
  applyFsync: () => void
  /** Why the node cannot take these tls-* options (files it cannot use, TLS switched on or off); null if it can. */
  checkTls: (next: NodeOptions) => CheckRefusal | null
  /** New connections and peer links use the tls-* files as checkTls loaded them, just before (PROTOCOL.md §TLS). */
  applyTls: () => void
}

/** Why CONFIG SET refuses: a reason, or one naming the option at fault (its flag) when it can tell. */
export type CheckRefusal = string | { option: string, reason: string }

/** One option: its flag (also its name in a config file, CONFIG GET/SET and KEYSTONE_ + the name). */
export interface OptionSpec {
  key: keyof NodeOptions
  flag: string
  kind: Kind
  help: string
  /** integer: the least and greatest value (Redis's range where Redis has the option). Default 0 and 2^53 - 1. */
  min?: number
  max?: number
  /**
   * CONFIG SET may change it while the node runs: `true` when the code that uses
   * it reads node.options each time (storing the value is all), or the step that
   * makes the change take effect. Absent: fixed at start-up.
   */
  live?: true | ((node: LiveTarget) => void)
  /**
   * CONFIG SET: before any option changes, a reason to refuse the new options
   * (all of them, as they would be), or null. Steps shared by several options
   * run once.
   */
  check?: (node: LiveTarget, next: NodeOptions) => CheckRefusal | null
  /** Not a line of a config file (--config itself). */
  notInFile?: boolean
}

// One function each, shared by the tls-* options: CONFIG SET runs a step once however many of them it sets.
const checkTls = (node: LiveTarget, next: NodeOptions): CheckRefusal | null => node.checkTls(next)
const applyTls = (node: LiveTarget): void => node.applyTls()

/** Every option, in --help's order. Adding a line here adds the flag, the environment variable, the config file line and CONFIG GET/SET. */
export const FLAGS: readonly OptionSpec[] = [
  { key: 'configFile', flag: 'config', kind: 'string', notInFile: true, help: 'config file: `name value` lines with these flags\' names (also a first bare argument)' },
  { key: 'host', flag: 'host', kind: 'string', help: 'address to listen on; peers are dialled from it too (default 127.0.0.1)' },
  { key: 'port', flag: 'port', kind: 'integer', max: 65535, help: 'port, 0 for an ephemeral one (default 1989, else the next free of 1990..2088)' },
  { key: 'advertise', flag: 'advertise', kind: 'address', help: 'HOST:PORT given to peers (default host:port)' },
  { key: 'join', flag: 'join', kind: 'address', help: 'HOST:PORT of any member of the cluster to join' },
  { key: 'dataDir', flag: 'data-dir', kind: 'string', help: "data directory ('' for memory only; default ./keystone-data/<port>)" },
  { key: 'persist', flag: 'persist', kind: 'boolean', help: 'keep data on disk (default); --no-persist: memory only' },
  { key: 'fsync', flag: 'fsync', kind: 'fsync', live: node => node.applyFsync(), help: 'always | everysec | no: when writes reach the disk (default everysec)' },
  { key: 'repairLog', flag: 'repair-log', kind: 'boolean', help: 'start despite damaged records in the data, skipping them (default off)' },
  { key: 'compactMinSize', flag: 'compact-min-size', kind: 'integer', help: 'compact the log no sooner than this many bytes (default 67108864)' },
  { key: 'compactPercentage', flag: 'compact-percentage', kind: 'integer', help: 'compact when the log exceeds this % of the snapshot, 0 never (default 100)' },
  { key: 'requirepass', flag: 'requirepass', kind: 'string', live: node => node.applyPassword(), help: 'password for clients and peers' },
  { key: 'tlsCertFile', flag: 'tls-cert-file', kind: 'string', live: applyTls, check: checkTls, help: 'PEM certificate: with --tls-key-file the port speaks TLS only (default: plain TCP)' },
  { key: 'tlsKeyFile', flag: 'tls-key-file', kind: 'string', live: applyTls, check: checkTls, help: 'PEM private key of --tls-cert-file' },
  { key: 'tlsCaCertFile', flag: 'tls-ca-cert-file', kind: 'string', live: applyTls, check: checkTls, help: 'PEM CA: peers\' certificates must chain to it (both ways); clients\' per --tls-auth-clients' },
  { key: 'tlsAuthClients', flag: 'tls-auth-clients', kind: 'tlsauth', live: true, check: checkTls, help: 'yes | no | optional: clients must present a certificate that verifies; optional: if any (default no)' },
  { key: 'maxclients', flag: 'maxclients', kind: 'integer', min: 1, max: 4294967295, live: true, help: 'most client connections (default 10000)' },
  { key: 'timeout', flag: 'timeout', kind: 'integer', max: 2147483647, live: true, help: 'close clients idle this many seconds, 0 never (default 0)' },
  { key: 'tcpKeepalive', flag: 'tcp-keepalive', kind: 'integer', max: 2147483647, live: true, help: 'TCP keepalive seconds, 0 off (default 60)' },
  { key: 'maxInlineLen', flag: 'max-inline-len', kind: 'integer', help: 'longest inline command, bytes (default 65536)' },
  { key: 'maxBulkLen', flag: 'max-bulk-len', kind: 'integer', help: 'largest bulk string, bytes (default 536870912)' },
  { key: 'maxMultibulkLen', flag: 'max-multibulk-len', kind: 'integer', help: 'most arguments per command (default 1048576)' },
  { key: 'clientOutputSoftLimit', flag: 'client-output-soft-limit', kind: 'integer', live: true, help: 'pause reading a client past this many unsent reply bytes (default 1048576)' },
  { key: 'clientOutputHardLimit', flag: 'client-output-hard-limit', kind: 'integer', live: true, help: 'drop a client past this many unsent reply bytes (default 268435456)' },
  { key: 'loglevel', flag: 'loglevel', kind: 'loglevel', live: node => node.applyLogLevel(), help: 'debug | info | warn | error (default info)' },
  { key: 'logFormat', flag: 'log-format', kind: 'logformat', help: 'text | json: json writes one object per line (default text)' },
  { key: 'tombstoneGraceMs', flag: 'tombstone-grace-ms', kind: 'integer', help: 'ms a tombstone is kept after every member holds it, for writes still in flight (default 10000)' },
  { key: 'memberTimeout', flag: 'member-timeout', kind: 'integer', help: 'remove a member down this many seconds, while this node reaches a majority; 0 never (default 0)' },
  { key: 'clockOffsetMs', flag: 'clock-offset-ms', kind: 'integer', help: 'TEST ONLY: ms added to this node\'s clock (default 0)' },
  { key: 'slowlogLogSlowerThan', flag: 'slowlog-log-slower-than', kind: 'integer', min: -1, max: Number.MAX_SAFE_INTEGER, live: true, help: 'SLOWLOG the commands that run this many µs or more; 0 every one, -1 none, as --slowlog-log-slower-than=-1 (default 10000)' },
  { key: 'slowlogMaxLen', flag: 'slowlog-max-len', kind: 'integer', min: 0, max: 2147483647, live: true, help: 'most SLOWLOG entries kept (default 128)' },
  // Metrics (PROTOCOL.md §Metrics).
  { key: 'metricsPort', flag: 'metrics-port', kind: 'integer', max: 65535, help: 'serve Prometheus metrics at http://HOST:N/metrics, 0 for an ephemeral port (default off)' }
]

/** The option of a flag or config name (lower case); undefined if none. */
export function optionByName (name: string): OptionSpec | undefined {
  return FLAGS.find(f => f.flag === name)
}

const YES = ['', 'true', 'yes', '1', 'on']
const NO = ['false', 'no', '0', 'off']

/** A value an option cannot take: `reason` in Redis's words (CONFIG SET), `expected` for a sentence. */
export class OptionValueError extends TypeError {
  constructor (readonly reason: string, readonly expected: string) {
    super(`must be ${expected}`)
    this.name = 'OptionValueError'
  }

  /** `<name> must be <expected>, got '<text>'`: for flags, the environment and config files. */
  describe (name: string, text: string): string {
    return `${name} must be ${this.expected}, got '${text}'`
  }
}

/**
 * One option's value from text (a flag, the environment, a config file line,
 * CONFIG SET); an OptionValueError otherwise (PROTOCOL.md §CONFIG).
 */
export function parseOptionValue (spec: OptionSpec, text: string): string | number | boolean {
  switch (spec.kind) {
    case 'integer': {
      const min = spec.min ?? 0
      const max = spec.max ?? Number.MAX_SAFE_INTEGER
      if (!/^(0|-?[1-9]\d{0,18})$/.test(text)) throw new OptionValueError("argument couldn't be parsed into an integer", min === 0 ? 'a non-negative integer' : 'an integer')
      const n = Number(text)
      if (n < min || n > max) throw new OptionValueError(`argument must be between ${min} and ${max} inclusive`, `an integer from ${min} to ${max}`)
      return n
    }
    case 'address':
      try {
        parseAddress(text)
      } catch {
        throw new OptionValueError('argument must be HOST:PORT', 'HOST:PORT')
      }
      return text
    case 'boolean': {
      // `--flag` alone gives '' (present); `--no-flag` gives 'false'.
      const word = text.toLowerCase()
      if (YES.includes(word)) return true
      if (NO.includes(word)) return false
      throw new OptionValueError("argument must be 'yes' or 'no'", 'yes or no')
    }
    case 'fsync': return oneOf(text, FSYNC_POLICIES)
    case 'loglevel': return oneOf(text, LOG_LEVELS)
    case 'logformat': return oneOf(text, LOG_FORMATS)
    case 'tlsauth': return oneOf(text.toLowerCase(), TLS_AUTH_CLIENTS)
    default: return text
  }
}

function oneOf (text: string, allowed: readonly string[]): string {
  if (!allowed.includes(text)) throw new OptionValueError(`argument(s) must be one of the following: ${allowed.join(', ')}`, `one of ${allowed.join(', ')}`)
  return text
}

/** An option's value as text, as CONFIG GET shows it and a config file holds it ('' for none). */
export function formatOptionValue (spec: OptionSpec, options: NodeOptions): string {
  const value = options[spec.key]
  if (value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  return String(value)
}

/** Options given as strings (flags, environment, a config file) become typed options, or a clear TypeError. */
export function resolveOptions (given: Partial<Record<keyof NodeOptions, string | number | undefined>>): NodeOptions {
  const options: NodeOptions = { ...DEFAULTS }
  const target = options as unknown as Record<string, unknown>
  for (const spec of FLAGS) {
    const raw = given[spec.key]
    if (raw === undefined) continue
    const text = String(raw)
    try {
      target[spec.key] = parseOptionValue(spec, text)
    } catch (err) {
      throw err instanceof OptionValueError ? new TypeError(err.describe(`--${spec.flag}`, text)) : err
    }
  }
  validateOptions(options)
  return options
}

/** Checks typed options (from flags or from code); a clear TypeError for the first bad one. */
export function validateOptions (options: NodeOptions): void {
  for (const spec of FLAGS) {
    if (spec.kind !== 'integer') continue
    const value = options[spec.key]
    // Unset is a choice for these two: the port search, and metrics off.
    if (value === undefined && (spec.key === 'port' || spec.key === 'metricsPort')) continue
    const min = spec.min ?? 0
    const max = spec.max ?? Number.MAX_SAFE_INTEGER
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new TypeError(`--${spec.flag} must be an integer from ${min} to ${max}, got ${String(value)}`)
    }
  }
  if (!(LOG_LEVELS as string[]).includes(options.loglevel)) throw new TypeError(`--loglevel must be one of ${LOG_LEVELS.join(', ')}`)
  if (!(LOG_FORMATS as readonly string[]).includes(options.logFormat)) throw new TypeError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`)
  if (!(FSYNC_POLICIES as readonly string[]).includes(options.fsync)) throw new TypeError(`--fsync must be one of ${FSYNC_POLICIES.join(', ')}`)
  if (!(TLS_AUTH_CLIENTS as readonly string[]).includes(options.tlsAuthClients)) throw new TypeError(`--tls-auth-clients must be one of ${TLS_AUTH_CLIENTS.join(', ')}`)
  const cross = crossCheck(options)
  if (cross !== null) throw new TypeError(cross)
}

/** What no single value shows: a reason, or null. CONFIG SET checks it too. */
export function crossCheck (options: NodeOptions): string | null {
  if (options.clientOutputHardLimit < options.clientOutputSoftLimit) {
    return 'client-output-hard-limit must not be below client-output-soft-limit'
  }
  return tlsCrossCheck(options)
}

/** 'host:port' (or '[v6]:port') as parts; a TypeError naming `what` otherwise. */
export function parseAddress (text: string, what = 'address'): { host: string, port: number } {
  const m = /^\[?([^\s[\]]+?)\]?:(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port < 1 || port > 65535) throw new TypeError(`${what} must be HOST:PORT, got '${text}'`)
  return { host: m[1] as string, port }
}
