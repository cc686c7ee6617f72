import minimist from 'minimist'
import { cliTls, EXIT, runInteractive, runOnce, type CliIo } from '../lib/client/cli.js'
import { runPipe } from '../lib/client/pipe.js'

const USAGE = `Usage: keystone-cli [-a PASSWORD] [--raw] [TLS] [HOST:PORT] [COMMAND [ARGS...]]
       keystone-cli [-a PASSWORD] --pipe [--pipe-timeout S] [TLS] [HOST:PORT] < FILE
       TLS: --tls [--cacert FILE] [--cert FILE --key FILE] [--sni NAME] [--insecure]

Sends one command and prints the reply as redis-cli does; with no command,
opens an interactive prompt. HOST:PORT defaults to 127.0.0.1:1989.
Exit code: 0 on a reply, 1 on an error reply, 2 when it cannot connect or
the arguments are wrong.

Options:
  -a PASSWORD         authenticate first (also KEYSTONE_REQUIREPASS)
  --raw               print replies unquoted, as redis-cli --raw: values as
                      their bytes, integers as digits, nil as an empty line
  --no-raw            quoted output (the default, even when stdout is not a terminal)
  --pipe              bulk loading, as redis-cli --pipe: send the commands on stdin
                      (inline lines and RESP arrays, mixed) without waiting for
                      replies; print each error reply on stderr and end with
                      "errors: N, replies: M" (exit 1 if N > 0)
  --pipe-timeout S    with --pipe: give up when no reply has come for S seconds
                      after the input ended (default 30; 0: wait for ever)
  --tls               connect over TLS (to a node started with --tls-cert-file)
  --cacert FILE       trust the CA certificate(s) in FILE (default: the system's)
  --cert FILE         present this client certificate (with --key), for a node
                      with --tls-auth-clients yes or optional
  --key FILE          the private key of --cert
  --sni NAME          the server name to ask for (SNI) and check the certificate
                      against (default: HOST when it is a name)
  --insecure          do not verify the node's certificate
  -h, --help          this text
`

const io: CliIo = {
  out: data => { process.stdout.write(data) },
  err: text => { process.stderr.write(text) }
}

async function main (): Promise<number> {
  let bad: string | null = null
  const argv = minimist(process.argv.slice(2), {
    string: ['a', 'pipe-timeout', 'cacert', 'cert', 'key', 'sni'],
    boolean: ['help', 'pipe', 'raw', 'tls', 'insecure'],
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
  const str = (name: string): string | undefined => {
    const value: unknown = argv[name]
    return typeof value === 'string' ? value : undefined
  }
  const secure = cliTls({ tls: argv.tls === true, cacert: str('cacert'), cert: str('cert'), key: str('key'), sni: str('sni'), insecure: argv.insecure === true }, io)
  if (typeof secure === 'number') return secure
  const rest = argv._.map(String)
  // The first word is the address when it has a colon; commands never do.
  const address = rest[0]?.includes(':') === true ? rest.shift() as string : '127.0.0.1:1989'
  const password = typeof argv.a === 'string' ? argv.a : process.env.KEYSTONE_REQUIREPASS
  if (argv.pipe === true) {
    const timeoutSec = Number(argv['pipe-timeout'] ?? 30)
    if (!Number.isFinite(timeoutSec) || timeoutSec < 0) {
      io.err(`keystone-cli: --pipe-timeout must be a number of seconds >= 0, got '${String(argv['pipe-timeout'])}'\n`)
      return EXIT.unusable
    }
    if (rest.length > 0) {
      io.err('keystone-cli: --pipe reads its commands from stdin, not from the arguments\n')
      return EXIT.unusable
    }
    return await runPipe(address, password, { input: process.stdin, progress: process.stderr.isTTY, timeoutSec, tls: secure }, io)
  }
  const print = { raw: argv.raw === true }
  return rest.length === 0
    ? await runInteractive(address, password, io, print, secure)
    : await runOnce(address, password, rest, io, print, secure)
}

main().then(
  code => { process.exitCode = code },
  err => {
    process.stderr.write(`keystone-cli: ${String(err)}\n`)
    process.exitCode = EXIT.unusable
  }
)
