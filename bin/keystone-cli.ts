import minimist from 'minimist'
import { EXIT, runInteractive, runOnce, type CliIo } from '../lib/client/cli.js'

const USAGE = `Usage: keystone-cli [-a PASSWORD] [HOST:PORT] [COMMAND [ARGS...]]

Sends one command and prints the reply as redis-cli does; with no command,
opens an interactive prompt. HOST:PORT defaults to 127.0.0.1:1989.
Exit code: 0 on a reply, 1 on an error reply, 2 when it cannot connect or
the arguments are wrong.

Options:
  -a PASSWORD   authenticate first (also KEYSTONE_REQUIREPASS)
  -h, --help    this text
`

const io: CliIo = {
  out: text => { process.stdout.write(text) },
  err: text => { process.stderr.write(text) }
}

async function main (): Promise<number> {
  let bad: string | null = null
  const argv = minimist(process.argv.slice(2), {
    string: ['a'],
    boolean: ['help'],
    alias: { h: 'help' },
    stopEarly: true,
    unknown: arg => {
      if (arg.startsWith('-')) bad = arg
      return !arg.startsWith('-')
    }
  })
  if (argv.help === true) {
    io.out(USAGE)
    return EXIT.reply
  }
  if (bad !== null) {
    io.err(`keystone-cli: unknown option '${String(bad)}' (see --help)\n`)
    return EXIT.unusable
  }
  const rest = argv._.map(String)
  // The first word is the address when it has a colon; commands never do.
  const address = rest[0]?.includes(':') === true ? rest.shift() as string : '127.0.0.1:1989'
  const password = typeof argv.a === 'string' ? argv.a : process.env.KEYSTONE_REQUIREPASS
  return rest.length === 0
    ? await runInteractive(address, password, io)
    : await runOnce(address, password, rest, io)
}

main().then(
  code => { process.exitCode = code },
  err => {
    process.stderr.write(`keystone-cli: ${String(err)}\n`)
    process.exitCode = EXIT.unusable
  }
)
