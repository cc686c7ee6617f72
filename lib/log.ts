// Logs go to stderr, one line per event. text: time, level, message, then any
// fields as key=value. json (--log-format json): one object per line with
// time (ISO 8601), level, msg, then the fields, for log shippers. Our own code
// rather than pino: README.md §Logs has the measurement.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[]

export type LogFormat = 'text' | 'json'
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']

/** Structured facts about an event (a json line's extra keys; text's key=value). */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>

export interface Logger {
  debug: (message: string, fields?: LogFields) => void
  info: (message: string, fields?: LogFields) => void
  warn: (message: string, fields?: LogFields) => void
  error: (message: string, fields?: LogFields) => void
  /** Filters at `level` from the next line on (CONFIG SET loglevel); absent on loggers with no level. */
  setLevel?: (level: LogLevel) => void
}

const PLAIN = /^[^\s"=\\]+$/

/** CR and LF as `\r` and `\n`: an event stays one line whatever a message quotes (OpenSSL's end in a newline). */
function oneLine (text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/\r/g, '\\r').replace(/\n/g, '\\n') : text
}

/** One text log line: time, level, message (CR, LF escaped), then fields as key=value (quoted when needed, as JSON strings). */
export function logLine (level: LogLevel, message: string, fields?: LogFields): string {
  let line = `${new Date().toISOString()} ${level} ${oneLine(message)}`
  if (fields !== undefined) {
    for (const key in fields) {
      const value = fields[key]
      const text = String(value)
      line += ` ${key}=${typeof value === 'string' && !PLAIN.test(text) ? JSON.stringify(text) : text}`
    }
  }
  return line + '\n'
}

/** One json log line: {"time":ISO,"level":...,"msg":...,fields...}. A field named time, level or msg is left out. */
export function jsonLogLine (level: LogLevel, message: string, fields?: LogFields): string {
  let line = `{"time":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(message)}`
  if (fields !== undefined) {
    for (const key in fields) {
      if (key === 'time' || key === 'level' || key === 'msg') continue
      line += `,${JSON.stringify(key)}:${JSON.stringify(fields[key])}`
    }
  }
  return line + '}\n'
}

/** The line maker of a format. */
export function lineFormatter (format: LogFormat): typeof logLine {
  return format === 'json' ? jsonLogLine : logLine
}

export function createLogger (level: LogLevel, write: (line: string) => void = line => process.stderr.write(line), format: LogFormat = 'text'): Logger {
  let min = ORDER[level]
  const line = lineFormatter(format)
  const at = (lvl: LogLevel) => (message: string, fields?: LogFields): void => {
    if (ORDER[lvl] >= min) write(line(lvl, message, fields))
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: next => { min = ORDER[next] }
  }
}

export const silentLogger: Logger = { debug () {}, info () {}, warn () {}, error () {} }
