import { homedir } from 'node:os'
import path from 'node:path'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import readline from 'node:readline'
import type tls from 'node:tls'
import { parseAddress } from '../options.js'
import { splitInlineArgs } from '../protocol/inline.js'
import { RespError, type RespValue } from '../protocol/reply-parser.js'
import { formatFor, formatRaw, formatReply } from './format.js'
import { RespClient } from './resp-client.js'

/** keystone-cli's exit codes (README.md §keystone-cli). */
export const EXIT = { reply: 0, errorReply: 1, unusable: 2 } as const

export interface CliIo {
  /** stdout: text as UTF-8, a Buffer as its bytes (--raw values). */
  out: (data: string | Buffer) => void
  err: (text: string) => void
}

/** How replies are printed: as redis-cli on a terminal (quoted), or as `redis-cli --raw`. */
export interface PrintOptions {
  raw: boolean
}

/** A reply as keystone-cli prints it, final newline included. */
function show (args: readonly string[], reply: RespValue, print: PrintOptions): string | Buffer {
  return print.raw ? formatRaw(reply) : formatFor(args, reply) + '\n'
}

const HISTORY_FILE = path.join(homedir(), '.keystone_cli_history')
const HISTORY_MAX = 1000

/** Command-line words go out as their UTF-8 bytes, as redis-cli sends them (a string would go as latin1). */
const utf8 = (word: string): Buffer => Buffer.from(word, 'utf8')

/** keystone-cli's TLS flags, as redis-cli's (README.md §keystone-cli). */
export interface CliTlsFlags {
  tls: boolean
  cacert?: string
  cert?: string
  key?: string
  insecure: boolean
  sni?: string
}

/**
 * The TLS options the flags ask for (undefined: plain TCP), or an exit code
 * after saying what is wrong (a file it cannot read, --cert without --key).
 */
export function cliTls (flags: CliTlsFlags, io: CliIo): tls.ConnectionOptions | undefined | number {
  const given = flags.cacert !== undefined || flags.cert !== undefined || flags.key !== undefined || flags.sni !== undefined || flags.insecure
  if (!flags.tls) {
    if (!given) return undefined
    io.err('keystone-cli: --cacert, --cert, --key, --sni and --insecure go with --tls\n')
    return EXIT.unusable
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    io.err('keystone-cli: --cert and --key go together\n')
    return EXIT.unusable
  }
  const options: tls.ConnectionOptions = { rejectUnauthorized: !flags.insecure }
  try {
    // Without --cacert the system's CAs are trusted, as with redis-cli.
    if (flags.cacert !== undefined) options.ca = readFileSync(flags.cacert)
    if (flags.cert !== undefined) options.cert = readFileSync(flags.cert)
    if (flags.key !== undefined) options.key = readFileSync(flags.key)
  } catch (err) {
    io.err(`keystone-cli: ${(err as Error).message}\n`)
    return EXIT.unusable
  }
  if (flags.sni !== undefined) options.servername = flags.sni
  return options
}

/** Connects (over TLS with `secure`) and authenticates; an exit code instead when that fails. */
export async function open (address: string, password: string | undefined, io: CliIo, secure?: tls.ConnectionOptions): Promise<RespClient | number> {
  let target
  try {
    target = parseAddress(address)
  } catch (err) {
    io.err(`keystone-cli: ${(err as Error).message}\n`)
    return EXIT.unusable
  }
  let client: RespClient
  try {
    client = await RespClient.connect({ ...target, connectTimeoutMs: 5000, tls: secure })
  } catch (err) {
    io.err(`Could not connect to Keystone at ${address}: ${(err as Error).message}\n`)
    return EXIT.unusable
  }
  if (password !== undefined) {
    const reply = await client.call(['AUTH', utf8(password)]).catch((err: Error) => err)
    if (reply instanceof Error) {
      io.err(`keystone-cli: ${reply.message}\n`)
      return EXIT.unusable
    }
    if (reply instanceof RespError) {
      io.out(formatReply(reply) + '\n')
      client.close()
      return EXIT.errorReply
    }
  }
  return client
}

/** One command, one reply printed; the exit code says which kind. */
export async function runOnce (address: string, password: string | undefined, args: string[], io: CliIo, print: PrintOptions = { raw: false }, secure?: tls.ConnectionOptions): Promise<number> {
  const client = await open(address, password, io, secure)
  if (typeof client === 'number') return client
  try {
    const reply = await client.call(args.map(utf8))
    io.out(show(args, reply, print))
    return reply instanceof RespError ? EXIT.errorReply : EXIT.reply
  } catch (err) {
    io.err(`keystone-cli: ${(err as Error).message}\n`)
    return EXIT.unusable
  } finally {
    client.close()
  }
}

/** The last lines of the history file, newest first; the file is cut back to them when it has grown long. */
function loadHistory (): string[] {
  try {
    const lines = readFileSync(HISTORY_FILE, 'utf8').split('\n').filter(Boolean)
    const kept = lines.slice(-HISTORY_MAX)
    if (lines.length > 2 * HISTORY_MAX) writeFileSync(HISTORY_FILE, kept.join('\n') + '\n', { mode: 0o600 })
    return kept.reverse()
  } catch {
    return []
  }
}

/** Lines that carry a password stay out of the history file, as with redis-cli. */
function secret (args: Buffer[]): boolean {
  const words = args.map(a => a.toString('latin1').toUpperCase())
  return words[0] === 'AUTH' || (words[0] === 'HELLO' && words.includes('AUTH'))
}

/** The interactive prompt: lines are split like inline commands (quotes and escapes work). */
export async function runInteractive (address: string, password: string | undefined, io: CliIo, print: PrintOptions = { raw: false }, secure?: tls.ConnectionOptions): Promise<number> {
  const client = await open(address, password, io, secure)
  if (typeof client === 'number') return client
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: `${address}> `,
    history: loadHistory(),
    historySize: HISTORY_MAX,
    terminal: process.stdin.isTTY
  })
  // Commands piped in (not a terminal) run without prompts, as with redis-cli.
  const interactive = process.stdin.isTTY
  if (interactive) rl.prompt()
  for await (const line of rl) {
    const bytes = Buffer.from(line, 'utf8')
    const args = splitInlineArgs(bytes, 0, bytes.length)
    if (args === null) {
      io.out('Invalid argument(s)\n')
    } else if (args.length > 0) {
      const word = args[0]?.toString().toLowerCase()
      if (word === 'quit' || word === 'exit') break
      if (interactive && !secret(args)) {
        try { appendFileSync(HISTORY_FILE, line + '\n', { mode: 0o600 }) } catch { /* no history, no harm */ }
      }
      const reply: RespValue | Error = await client.call(args).catch((err: Error) => err)
      if (reply instanceof Error) {
        io.err(`keystone-cli: ${reply.message}\n`)
        rl.close()
        return EXIT.unusable
      }
      io.out(show(args.map(a => a.toString()), reply, print))
    }
    if (interactive) rl.prompt()
  }
  rl.close()
  client.close()
  return EXIT.reply
}
