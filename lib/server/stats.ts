import type { CommandStat, ServerStats, SlowlogEntry } from '../commands/index.js'

const SAMPLE_EVERY_MS = 100
const SAMPLES = 16

/** Counters for INFO stats, commandstats and errorstats, and the SLOWLOG; ops/sec averaged over the last 1.6 s as Redis does. */
export function createStats (): ServerStats & { close: () => void } {
  const samples: number[] = []
  let lastCount = 0
  let lastAt = Date.now()
  const stats = {
    startedAt: Date.now(),
    connectionsReceived: 0,
    rejectedConnections: 0,
    commandsProcessed: 0,
    netInputBytes: 0,
    netOutputBytes: 0,
    commands: new Map<string, CommandStat>(),
    errors: new Map<string, number>(),
    errorReplies: 0,
    slowlog: [] as SlowlogEntry[],
    slowlogNextId: 0,
    opsPerSec (): number {
      if (samples.length === 0) return 0
      return Math.round(samples.reduce((a, b) => a + b, 0) / samples.length)
    },
    close (): void { clearInterval(timer) }
  }
  const timer = setInterval(() => {
    const now = Date.now()
    const rate = ((stats.commandsProcessed - lastCount) * 1000) / Math.max(1, now - lastAt)
    lastCount = stats.commandsProcessed
    lastAt = now
    samples.push(rate)
    if (samples.length > SAMPLES) samples.shift()
  }, SAMPLE_EVERY_MS)
  timer.unref()
  return stats
}
