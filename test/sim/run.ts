// `npm run sim -- --seed N --schedules K`: runs K seeded schedules from seed N
// (default: a random seed, 200 schedules) and prints each failure with its
// seed and the end of its history. `--seed N --schedules 1 --verbose` replays one.

import minimist from 'minimist'
import { runSchedule } from './simulation.js'

const USAGE = `Usage: npm run sim -- [--seed N] [--schedules K] [--chaos-ms MS] [--verbose]

  --seed N        first seed (default: random); schedule i runs seed N+i
  --schedules K   how many schedules (default 200)
  --chaos-ms MS   simulated ms of faults and traffic per schedule (default 8000)
  --verbose       print every schedule's history, not only failing ones'
  --keep-going    run all K even after a failure (default: stop at the first)
`

async function main (): Promise<number> {
  const argv = minimist(process.argv.slice(2), { boolean: ['verbose', 'help', 'keep-going'], alias: { h: 'help' } })
  if (argv.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const first = argv.seed === undefined ? Math.floor(Math.random() * 1e9) : Number(argv.seed)
  const count = argv.schedules === undefined ? 200 : Number(argv.schedules)
  const chaosMs = argv['chaos-ms'] === undefined ? undefined : Number(argv['chaos-ms'])
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || count < 1) {
    process.stderr.write(USAGE)
    return 2
  }
  const started = Date.now()
  let failed = 0
  let ops = 0
  let faults = 0
  for (let i = 0; i < count; i++) {
    const seed = first + i
    const r = await runSchedule(seed, { chaosMs, fullHistory: argv.verbose === true })
    ops += r.ops
    faults += r.faults
    if (argv.verbose === true || !r.ok) process.stdout.write(`${r.history.join('\n')}\n`)
    if (!r.ok) {
      failed++
      process.stdout.write(`FAIL seed ${seed}:\n  ${r.failures.join('\n  ')}\nreplay: npm run sim -- --seed ${seed} --schedules 1 --verbose\n`)
      if (argv['keep-going'] !== true) break
    }
    if ((i + 1) % 50 === 0) process.stdout.write(`${i + 1} schedules, ${failed} failed, ${Math.round((Date.now() - started) / 1000)} s\n`)
  }
  process.stdout.write(`seeds ${first}..${first + count - 1}: ${count} schedules, ${ops} client operations, ${faults} faults, ${failed} failed, in ${Math.round((Date.now() - started) / 1000)} s\n`)
  return failed === 0 ? 0 : 1
}

main().then(code => { process.exitCode = code }, err => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
