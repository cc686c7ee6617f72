import minimist from 'minimist'
import { FLAGS, KeystoneError, KeystoneNode, resolveOptions, type NodeOptions } from '../lib/index.js'
import { logLine } from '../lib/log.js'

const USAGE = `Usage: keystone-server [options]

Starts a Keystone node. Every option can also be set in the environment as
KEYSTONE_<NAME> (KEYSTONE_PORT, KEYSTONE_JOIN, KEYSTONE_DATA_DIR, ...); a flag wins.

Options:
${FLAGS.map(f => `  --${f.flag.padEnd(26)}${f.help}`).join('\n')}
  -h, --help                  this text
`

function fail (message: string, code: number): never {
  process.stderr.write(`keystone-server: ${message}\n`)
  process.exit(code)
}

async function main (): Promise<void> {
  const argv = minimist(process.argv.slice(2), {
    string: FLAGS.map(f => f.flag),
    boolean: ['help'],
    alias: { h: 'help' },
    unknown: arg => fail(`unknown argument '${arg}' (see --help)`, 2)
  })
  if (argv.help === true) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const given: Partial<Record<keyof NodeOptions, string>> = {}
  for (const { key, flag } of FLAGS) {
    const fromFlag: unknown = argv[flag]
    const fromEnv = process.env[`KEYSTONE_${flag.toUpperCase().replace(/-/g, '_')}`]
    const value = Array.isArray(fromFlag) ? fromFlag[fromFlag.length - 1] : fromFlag
    if (typeof value === 'string') given[key] = value
    else if (typeof value === 'boolean') given[key] = String(value) // --no-persist
    else if (fromEnv !== undefined) given[key] = fromEnv
  }
  let options: NodeOptions
  try {
    options = resolveOptions(given)
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err), 2)
  }
  let node: KeystoneNode
  try {
    node = new KeystoneNode(options)
    const { host, port } = await node.start()
    // The contract's `listening on HOST:PORT` line is printed whatever the log level.
    const data = node.durability === null ? 'data in memory only' : `data in ${node.durability.dir} (fsync ${node.durability.fsync})`
    process.stderr.write(logLine('info', `node ${node.nodeId} listening on ${host}:${port}, advertised as ${node.cluster.advertise}, ${data}`))
  } catch (err) {
    fail(err instanceof KeystoneError ? err.message : String(err), 1)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    node.log.info(`${signal}: shutting down`)
    node.close().then(
      () => { node.log.info('bye'); process.exit(0) },
      err => fail(`shutdown failed: ${String(err)}`, 1)
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch(err => fail(String(err), 1))
