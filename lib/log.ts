// Logs go to stderr, one line per event: time, level, message.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[]

export interface Logger {
  debug: (message: string) => void
  info: (message: string) => void
  warn: (message: string) => void
  error: (message: string) => void
}

/** One log line: time, level, message. */
export function logLine (level: LogLevel, message: string): string {
  return `${new Date().toISOString()} ${level} ${message}\n`
}

export function createLogger (level: LogLevel, write: (line: string) => void = line => process.stderr.write(line)): Logger {
  const min = ORDER[level]
  const at = (lvl: LogLevel) => (message: string): void => {
    if (ORDER[lvl] >= min) write(logLine(lvl, message))
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export const silentLogger: Logger = { debug () {}, info () {}, warn () {}, error () {} }
