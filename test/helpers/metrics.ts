// Scraping a node's /metrics over real HTTP, reading the Prometheus text, and
// checking it with promtool when the machine has it (Debian: `prometheus`).

import { spawn, spawnSync } from 'node:child_process'
import http from 'node:http'
import type { KeystoneNode } from '../../lib/node.js'
import type { Address } from './server.js'

export interface Scrape {
  status: number
  contentType: string
  body: string
}

/** One HTTP request to the metrics server (a fresh connection, closed after). */
export function scrape (at: Address, path = '/metrics', method = 'GET'): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: at.host, port: at.port, path, method, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

export interface Metrics {
  /** Sample values by `name{labels}` exactly as printed (`name` alone without labels). */
  readonly values: Map<string, number>
  /** `# TYPE` of each metric family. */
  readonly types: Map<string, string>
  /** The value of a sample; throws, naming it, if it is not there. */
  get: (series: string) => number
}

/** Parses the exposition text (the subset prom-client writes: no timestamps, no escapes in our labels). */
export function parseMetrics (text: string): Metrics {
  const values = new Map<string, number>()
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1] as string, type[2] as string)
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return {
    values,
    types,
    get (series: string): number {
      const v = values.get(series)
      if (v === undefined) throw new Error(`no sample ${series} in the scrape`)
      return v
    }
  }
}

/** Why promtool checks are skipped here (pass it through toolSkip), or false when `promtool` can be run. */
export const NO_PROMTOOL: string | false = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined
  ? false
  : 'promtool is not on PATH; install it to run this check (Debian/Ubuntu: apt-get install prometheus)'

/** Where a node serves /metrics; throws if metrics are off. */
export function metricsAt (node: KeystoneNode): Address {
  const at = node.metricsAddress()
  if (at === null) throw new Error('metrics are off')
  return at
}

/** A scrape of the node, parsed; throws unless 200. */
export async function metricsOf (node: KeystoneNode): Promise<Metrics> {
  const res = await scrape(metricsAt(node))
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${res.body}`)
  return parseMetrics(res.body)
}

/** `promtool check metrics` with the text on stdin: its exit code and what it said. */
export function promtoolCheck (text: string): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { output += s })
    child.on('error', reject)
    child.on('close', code => resolve({ code, output }))
    child.stdin.on('error', () => {})
    child.stdin.end(text)
  })
}
