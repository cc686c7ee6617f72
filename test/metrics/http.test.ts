import t from 'tap'
import { createLogger } from '../../lib/log.js'
import { MetricsServer, type Exposition } from '../../lib/metrics/http.js'
import { scrape } from '../helpers/metrics.js'
import type { Teardown } from '../helpers/server.js'

// The endpoint's failure paths (PROTOCOL.md §Metrics), with expositions that fail on purpose.

async function serve (t: Teardown, exposition: Exposition): Promise<{ at: { host: string, port: number }, lines: string[] }> {
  const lines: string[] = []
  const server = new MetricsServer(exposition, createLogger('debug', line => lines.push(line)))
  t.teardown(() => server.close())
  return { at: await server.listen('127.0.0.1', 0), lines }
}

t.test('collecting fails: 500 and an error line', async t => {
  const { at, lines } = await serve(t, { contentType: 'text/plain', text: async () => { throw new Error('boom') } })
  t.equal((await scrape(at)).status, 500)
  t.ok(lines.some(l => / error metrics: cannot serve \/metrics: boom/.test(l)))
})

t.test('answering throws (after collecting): logged and a 500, never an unhandled rejection', async t => {
  const exposition: Exposition = {
    get contentType (): string { throw new Error('no content type') },
    text: async () => 'x 1\n'
  }
  const { at, lines } = await serve(t, exposition)
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => { unhandled.push(err) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  t.equal((await scrape(at)).status, 500)
  t.ok(lines.some(l => / error metrics: cannot serve \/metrics: no content type/.test(l)))
  await new Promise(resolve => setImmediate(resolve))
  t.same(unhandled, [])
})
