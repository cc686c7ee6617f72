import { readFileSync } from 'node:fs'

// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`):
//   node dist/bench/profile.js FILE.cpuprofile [TOP]
// prints the functions with the most self time, and the most total time.

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function label (n: ProfileNode): string {
  const f = n.callFrame
  const file = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}`
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${file}`
}

function main (): void {
  const file = process.argv[2]
  if (file === undefined) throw new TypeError('usage: node dist/bench/profile.js FILE.cpuprofile [TOP]')
  const top = Number(process.argv[3] ?? 25)
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let all = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    all += dt
    const node = byId.get(id)
    if (node === undefined) return
    self.set(label(node), (self.get(label(node)) ?? 0) + dt)
    // Count each function once per sample however deep it recurs.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)
      if (n === undefined) break
      const l = label(n)
      if (!seen.has(l)) { seen.add(l); total.set(l, (total.get(l) ?? 0) + dt) }
    }
  })
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (of ${(all / 1000).toFixed(0)} ms sampled)\n`)
    for (const [l, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((100 * t) / all).toFixed(1).padStart(6)}%  ${l}\n`)
    }
  }
  print('self time', self)
  print('total time', total)
}

main()
