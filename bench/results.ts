import { readFileSync, writeFileSync } from 'node:fs'

// bench/RESULTS.md holds two parts, throughput and memory, each between
// `<!-- NAME:start -->` and `<!-- NAME:end -->`. A run rewrites the parts it
// measured and keeps the others as they were (`--memory` alone leaves the
// throughput table, `--no-memory` the memory table).

export type ResultsPart = 'throughput' | 'memory'

const PARTS: readonly ResultsPart[] = ['throughput', 'memory']

function keptPart (old: string, name: ResultsPart): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(old)?.[1]
}

export function writeResults (file: string, parts: Partial<Record<ResultsPart, string>>): void {
  let old = ''
  try {
    old = readFileSync(file, 'utf8')
  } catch {} // none yet
  const out = ['# Keystone benchmark results', '']
  for (const name of PARTS) {
    const text = parts[name] ?? keptPart(old, name)
    if (text === undefined) continue
    out.push(`<!-- ${name}:start -->`, text.trimEnd(), `<!-- ${name}:end -->`, '')
  }
  writeFileSync(file, out.join('\n'))
}
