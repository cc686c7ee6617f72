import t from 'tap'
import net from 'node:net'
import { KeystoneNode } from '../../lib/node.js'
import { silentLogger } from '../../lib/log.js'
import { caller, connect, runBin, spawnServer, startNode, tempDir, toolSkip, waitFor } from '../helpers/server.js'
import { metricsAt, metricsOf, NO_PROMTOOL, parseMetrics, promtoolCheck, scrape } from '../helpers/metrics.js'

// --metrics-port: Prometheus text at GET /metrics (README.md §Metrics), scraped
// over real HTTP and checked with promtool when it is installed.

t.test('off by default: no metrics, no port', async t => {
  const node = await startNode(t)
  t.equal(node.metrics, null)
  t.equal(node.metricsAddress(), null)
})

t.test('GET /metrics shows clients, commands, hits and misses, keys, per-command calls', async t => {
  const node = await startNode(t, { metricsPort: 0 })
  const at = metricsAt(node)
  t.not(at.port, 0, 'an ephemeral port was taken')
  t.not(at.port, node.address().port, 'not the RESP port')
  const client = await connect(t, node)
  const call = caller(client)
  t.equal(await call('SET', 'a', '1'), 'OK')
  t.equal(await call('SET', 'b', '2'), 'OK')
  t.equal(await call('GET', 'a'), '1')
  t.equal(await call('GET', 'absent'), null)
  t.match(String(await call('GET')), /wrong number of arguments/)

  const res = await scrape(at)
  t.equal(res.status, 200)
  t.equal(res.contentType, 'text/plain; version=0.0.4; charset=utf-8', 'Prometheus text format 0.0.4')
  const m = parseMetrics(res.body)
  t.equal(m.get('redis_connected_clients'), 1, 'the one client')
  t.equal(m.get('redis_commands_processed_total'), 4, 'four ran; the refused GET is not processed')
  t.equal(m.get('redis_keyspace_hits_total'), 1)
  t.equal(m.get('redis_keyspace_misses_total'), 1)
  t.equal(m.get('redis_db_keys{db="db0"}'), 2)
  t.equal(m.get('redis_db_keys_expiring{db="db0"}'), 0)
  t.equal(m.get('redis_commands_total{cmd="set"}'), 2)
  t.equal(m.get('redis_commands_total{cmd="get"}'), 2)
  t.equal(m.get('redis_commands_rejected_calls_total{cmd="get"}'), 1, 'the GET without a key')
  t.equal(m.get('redis_errors_total{err="ERR"}'), 1)
  t.ok(m.get('redis_commands_duration_seconds_total{cmd="set"}') > 0, 'time in SET, seconds')
  t.ok(m.get('redis_commands_duration_seconds_total{cmd="set"}') < 1, 'seconds, not µs')
  t.ok(m.get('redis_memory_used_bytes') > 1e6)
  t.ok(m.get('redis_connections_received_total') >= 1)
  t.equal(m.get('keystone_cluster_members{state="up"}'), 1, 'a one-node cluster: itself')
  t.equal(m.get('keystone_cluster_members{state="down"}'), 0)
  t.equal(m.get('keystone_tombstone_backlog'), 0)
  t.equal(m.get('keystone_tombstone_backlog_held_by{holder="none"}'), 1)
  t.ok(m.values.has('process_cpu_user_seconds_total'), 'the process\'s metrics follow')
  for (const [name, type] of [['redis_commands_processed_total', 'counter'], ['redis_commands_total', 'counter'],
    ['redis_connected_clients', 'gauge'], ['redis_db_keys', 'gauge'], ['keystone_log_fsync_seconds', 'histogram']]) {
    t.equal(m.types.get(name as string), type, `${name as string} is a ${type as string}`)
  }

  client.close()
  await waitFor(async () => (await metricsOf(node)).get('redis_connected_clients') === 0, 5000, 'the closed client to leave the gauge')
  t.equal((await metricsOf(node)).get('redis_commands_processed_total'), 4, 'scraping runs no command')
})

t.test('another path is 404, another method 405, HEAD has no body', async t => {
  const node = await startNode(t, { metricsPort: 0 })
  const at = metricsAt(node)
  const notFound = await scrape(at, '/')
  t.equal(notFound.status, 404)
  t.match(notFound.body, /metrics are at \/metrics/)
  t.equal((await scrape(at, '/metricsx')).status, 404)
  const post = await scrape(at, '/metrics', 'POST')
  t.equal(post.status, 405)
  t.match(post.body, /method POST not allowed/)
  const head = await scrape(at, '/metrics', 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body, '')
  t.equal((await scrape(at, '/metrics?x=1')).status, 200, 'a query string is ignored')
})

t.test('a busy metrics port stops start() with a clear error and closes what it opened', async t => {
  const blocker = net.createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => blocker.close(resolve)))
  const busy = (blocker.address() as net.AddressInfo).port
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', metricsPort: busy }, { log: silentLogger })
  t.teardown(() => node.close())
  await t.rejects(node.start(), { code: 'KS_ERR_PORT_BUSY', message: `metrics port ${busy} on 127.0.0.1 is already in use` })
  t.equal(node.metricsAddress()?.port ?? 0, 0, 'not listening for metrics')
  t.equal(node.address().port, 0, 'the RESP port it had opened is closed again')
})

t.test('a metrics port outside 0..65535 is refused', async t => {
  t.throws(() => new KeystoneNode({ metricsPort: 70000 }, { log: silentLogger }), { message: '--metrics-port must be an integer from 0 to 65535, got 70000' })
})

t.test('keystone_log_fsync_seconds counts the log\'s fdatasyncs', async t => {
  const node = await startNode(t, { metricsPort: 0, dataDir: tempDir(t), fsync: 'always' })
  const call = caller(await connect(t, node))
  for (let i = 0; i < 3; i++) t.equal(await call('SET', `k${i}`, 'v'), 'OK')
  const m = await metricsOf(node)
  // --fsync always: a reply waits for its fdatasync, so three replies mean at least one (group commit may share).
  const count = m.get('keystone_log_fsync_seconds_count')
  t.ok(count >= 1, `${count} fdatasyncs observed`)
  t.equal(m.get('keystone_log_fsync_seconds_bucket{le="+Inf"}'), count)
  t.ok(m.get('keystone_log_fsync_seconds_sum') > 0)
})

const PROMTOOL_SKIP = toolSkip(t, NO_PROMTOOL)

t.test('promtool check metrics accepts the output', { skip: PROMTOOL_SKIP }, async t => {
  const node = await startNode(t, { metricsPort: 0, dataDir: tempDir(t), fsync: 'always' })
  const call = caller(await connect(t, node))
  await call('SET', 'k', 'v')
  await call('GET', 'k')
  await call('NOSUCH')
  await call('CONFIG', 'GET', 'maxclients')
  const res = await scrape(metricsAt(node))
  const { code, output } = await promtoolCheck(res.body)
  t.equal(code, 0, `promtool: ${output}`)
  t.equal(output.trim(), '', 'no lint warnings either')
})

t.test('bin: KEYSTONE_METRICS_PORT=0 logs the metrics URL and serves it', async t => {
  const server = await spawnServer(t, ['--port', '0', '--no-persist'], { KEYSTONE_METRICS_PORT: '0' })
  const m = /metrics on http:\/\/(\S+):(\d+)\/metrics/.exec(server.stderr)
  if (m === null) throw new Error(`no 'metrics on' line: ${server.stderr}`)
  const res = await scrape({ host: m[1] as string, port: Number(m[2]) })
  t.equal(res.status, 200)
  t.equal(parseMetrics(res.body).get('keystone_cluster_members{state="up"}'), 1)
})

t.test('bin: a busy metrics port exits 1 with a clear message; a bad one exits 2', async t => {
  const blocker = net.createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => blocker.close(resolve)))
  const busy = (blocker.address() as net.AddressInfo).port
  const [taken, bad] = await Promise.all([
    runBin(t, 'keystone-server', ['--port', '0', '--no-persist', '--metrics-port', String(busy)]),
    runBin(t, 'keystone-server', ['--port', '0', '--no-persist', '--metrics-port', '65536'])
  ])
  t.equal(taken.code, 1)
  t.match(taken.stderr, `keystone-server: metrics port ${busy} on 127.0.0.1 is already in use`)
  t.notMatch(taken.stderr, /listening on/)
  t.equal(bad.code, 2)
  t.match(bad.stderr, "--metrics-port must be an integer from 0 to 65535, got '65536'")
})
