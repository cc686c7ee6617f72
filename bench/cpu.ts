import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

// A process's CPU time from /proc/<pid>/stat: utime + stime, all threads,
// counted in clock ticks (usually 100 a second, so 10 ms resolution).

let ticksPerSecond: number | null = null

function clockTicks (): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU microseconds (user + system) the process has used so far. */
export function cpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1e6) / clockTicks()
}

/** Whether /proc can tell us a process's CPU time (Linux). */
export function canMeasureCpu (): boolean {
  try {
    cpuMicros(process.pid)
    return true
  } catch {
    return false
  }
}
