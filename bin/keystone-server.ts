import path from 'node:path'
import minimist from 'minimist'
import { FLAGS, KeystoneError, KeystoneNode, readConfigFile, resolveOptions, type NodeOptions } from '../lib/index.js'
import { lineFormatter } from '../lib/log.js'

const USAGE = `Usage: keystone-server [options]
       keystone-server FILE [options]

Starts a Keystone node. Every option can also be set in the environment as
KEYSTONE_<NAME> (KEYSTONE_PORT, KEYSTONE_JOIN, KEYSTONE_DATA_DIR, ...), and in a
config file (FILE or --config FILE) as a line \`name value\` (\`port 7000\`,
\`requirepass "two words"\`, \`# a comment\`). A flag wins over the environment,
which wins over the file.

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
    // A first bare argument is the config file, as redis-server takes it.
    unknown: arg => (arg === process.argv[2] && !arg.startsWith('-')) || fail(`unknown argument '${arg}' (see --help)`, 2)
  })
  if (argv.help === true) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  // Precedence: config file < environment < flags.
  const given: Partial<Record<keyof NodeOptions, string>> = {}
  for (const { key, flag } of FLAGS) {
    const fromFlag: unknown = argv[flag]
    const fromEnv = process.env[`KEYSTONE_${flag.toUpperCase().replace(/-/g, '_')}`]
    const value = Array.isArray(fromFlag) ? fromFlag[fromFlag.length - 1] : fromFlag
    if (typeof value === 'string') given[key] = value
    else if (typeof value === 'boolean') given[key] = String(value) // --no-persist
    else if (fromEnv !== undefined) given[key] = fromEnv
  }
  const bare = argv._[0]
  if (bare !== undefined) {
    if (argv.config !== undefined) fail('give the config file either as the first argument or with --config, not both', 2)
    given.configFile = String(bare)
  }
  const configFile = given.configFile
  let options: NodeOptions
  try {
    if (configFile !== undefined) {
      // Absolute, so CONFIG REWRITE finds it whatever the working directory becomes.
      given.configFile = path.resolve(configFile)
      for (const [key, value] of Object.entries(readConfigFile(configFile))) {
        const k = key as keyof NodeOptions
        given[k] ??= value
      }
    }
  } catch (err) {
    // `keystone-server: <file>:<line>: <reason>`, exit code 1, as redis-server does for its file.
    fail(err instanceof Error ? err.message : String(err), 1)
  }
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
    const line = lineFormatter(options.logFormat)
    // json carries the facts as fields too; text keeps its one sentence.
    const fields = { node: node.nodeId, host, port, advertise: node.cluster.advertise, dataDir: node.durability?.dir ?? null, configFile: options.configFile ?? null }
    process.stderr.write(line('info', `node ${node.nodeId} listening on ${host}:${port}, advertised as ${node.cluster.advertise}, ${data}`, options.logFormat === 'json' ? fields : undefined))
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
