import t from 'tap'
import { runSchedule } from './simulation.js'

// A short run of the cluster simulator (DESIGN.md §The simulator): fixed seeds,
// so a failure here replays exactly with `npm run sim -- --seed N --schedules 1
// --verbose`. KEYSTONE_SIM_SEED and KEYSTONE_SIM_SCHEDULES choose other ones.

const first = Number(process.env.KEYSTONE_SIM_SEED ?? 1)
const count = Number(process.env.KEYSTONE_SIM_SCHEDULES ?? 200)

// The schedules take about 30 s on an idle 2-core machine; a loaded one may
// take several times that, past the 120 s tap gives a test file.
t.setTimeout(600_000)

t.test(`${count} seeded schedules from seed ${first}: members converge, nothing acknowledged lost, no delete undone, counters add up, set adds win, backlog drained`, async t => {
  let ops = 0
  let faults = 0
  for (let seed = first; seed < first + count; seed++) {
    const r = await runSchedule(seed)
    ops += r.ops
    faults += r.faults
    if (!r.ok) {
      t.fail(`seed ${seed} failed (replay: npm run sim -- --seed ${seed} --schedules 1 --verbose):\n  ${r.failures.join('\n  ')}\n${r.history.slice(-40).join('\n')}`)
      return
    }
  }
  t.pass(`${count} schedules, ${ops} client operations, ${faults} faults`)
})
