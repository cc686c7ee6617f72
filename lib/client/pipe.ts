import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import split2 from 'split2'
import { ReplyParser, RespError } from '../protocol/reply-parser.js'
import type { ConnectionOptions } from 'node:tls'
import { EXIT, open, type CliIo } from './cli.js'
import { PipeFramer, type InputError } from './pipe-framer.js'

// keystone-cli --pipe (README.md §Bulk loading), as `redis-cli --pipe`: stdin
// goes to the server as fast as the socket takes it, replies are counted as
// they come, and the end is an ECHO of 20 random bytes sent after the input:
// its reply is the last one. stdout says what redis-cli says; each error reply
// is printed on stderr, and the exit code is 1 when there was any error.

export interface PipeOptions {
  /** Where the commands come from: inline lines and RESP arrays, mixed (stdin). */
  input: Readable
  /** A progress line on stderr, redrawn four times a second (when stderr is a terminal). */
  progress: boolean
  /** Once the input is sent, give up after this many seconds without a reply; 0: wait for ever. Default 30, as redis-cli. */
  timeoutSec?: number
  /** Connect over TLS with these options (keystone-cli --tls); undefined: plain TCP. */
  tls?: ConnectionOptions
}

/** Longest line of input, bytes: an inline command, or one bulk's data in RESP. */
export const MAX_LINE = 16 * 1024 * 1024
/** Input is sent in writes of about this many bytes. */
const SEND_AT = 64 * 1024
const PROGRESS_MS = 250

const markerCommand = (marker: Buffer): string => `*2\r\n$4\r\nECHO\r\n$20\r\n${marker.toString('latin1')}\r\n`

export async function runPipe (address: string, password: string | undefined, options: PipeOptions, io: CliIo): Promise<number> {
  const client = await open(address, password, io, options.tls)
  if (typeof client === 'number') return client
  const socket = client.detach()
  const { input } = options
  const timeoutMs = (options.timeoutSec ?? 30) * 1000

  return await new Promise<number>(resolve => {
    let errors = 0
    let replies = 0
    let marker: Buffer | null = null
    let inputOver = false
    let halfClosed = false
    let finished = false
    let paused = false
    let flushQueued = false
    let socketError: Error | null = null
    let lastRead = Date.now()
    const started = Date.now()
    const parser = new ReplyParser()

    const framer = new PipeFramer((e: InputError) => {
      errors++
      io.err(`keystone-cli: input line ${e.line}: ${e.message}${e.fatal && !inputOver ? '; the rest of the input is not sent' : ''}\n`)
    })
    const lines = split2('\n', { decodeStrings: false, maxLength: MAX_LINE })

    // Progress on a terminal: one line, redrawn in place, cleared before anything else is printed.
    let shown = false
    let rateFrom = { at: started, replies: 0 }
    const progress = options.progress
      ? setInterval(() => {
        const now = Date.now()
        const rate = (replies - rateFrom.replies) * 1000 / Math.max(1, now - rateFrom.at)
        rateFrom = { at: now, replies }
        io.err(`\rsent ${framer.commands.toLocaleString('en-US')} commands, ${replies.toLocaleString('en-US')} replies, ${Math.round(rate).toLocaleString('en-US')} replies/s\x1b[K`)
        shown = true
      }, PROGRESS_MS)
      : null
    const say = (text: string): void => {
      if (shown) io.err('\r\x1b[K')
      shown = false
      io.out(text)
    }

    const timer = setInterval(() => {
      if (inputOver && timeoutMs > 0 && Date.now() - lastRead > timeoutMs) {
        io.err(`No replies for ${timeoutMs / 1000} seconds: exiting.\n`)
        errors++
        finish()
      }
    }, 1000)

    /** Writes what the framer has ready; a full socket pauses the input until it drains. */
    const send = (): void => {
      const text = framer.take()
      if (text.length === 0 || finished) return
      if (socket.write(text, 'latin1') || paused) return
      paused = true
      lines.pause()
      socket.once('drain', () => {
        paused = false
        lines.resume()
      })
    }
    const flush = (): void => {
      flushQueued = false
      send()
    }

    /** No more input (its end, or a framing error): the marker follows what was sent. */
    const inputDone = (): void => {
      if (inputOver) return
      inputOver = true
      framer.end()
      send()
      if (framer.partSent) {
        // The server holds part of a command: no command after it would be read right.
        // A half-close instead: the server answers what it has, then closes (PROTOCOL.md §Pipelining).
        halfClosed = true
        socket.end()
      } else {
        marker = randomBytes(20)
        socket.write(markerCommand(marker), 'latin1')
      }
      say('All data transferred. Waiting for the last reply...\n')
    }

    const finish = (): void => {
      if (finished) return
      finished = true
      clearInterval(timer)
      if (progress !== null) clearInterval(progress)
      lines.removeAllListeners('data')
      input.unpipe(lines)
      if (!input.readableEnded) input.destroy()
      socket.destroy()
      say(`errors: ${errors}, replies: ${replies}\n`)
      resolve(errors > 0 ? EXIT.errorReply : EXIT.reply)
    }

    lines.on('data', (line: string) => {
      framer.line(line)
      if (framer.failed) {
        // A framing error: nothing after it can be framed, so the input stops here.
        input.unpipe(lines)
        lines.pause()
        inputDone()
      } else if (framer.buffered >= SEND_AT) {
        send()
      } else if (!flushQueued) {
        flushQueued = true
        setImmediate(flush)
      }
    })
    lines.on('end', inputDone)
    lines.on('error', (err: Error) => {
      errors++
      const what = /maximum buffer/.test(err.message) ? `longer than ${MAX_LINE} bytes` : err.message
      io.err(`keystone-cli: input line ${framer.lines + 1}: ${what}; the rest of the input is not sent\n`)
      inputDone()
    })
    input.on('error', (err: Error) => {
      errors++
      io.err(`Error reading from stdin: ${err.message}\n`)
      inputDone()
    })

    socket.on('data', (chunk: Buffer) => {
      lastRead = Date.now()
      parser.feed(chunk)
      try {
        for (let reply = parser.next(); reply !== undefined; reply = parser.next()) {
          if (reply instanceof RespError) {
            errors++
            io.err(reply.message + '\n')
          } else if (marker !== null && Buffer.isBuffer(reply) && reply.length === 20 && reply.equals(marker)) {
            say('Last reply received from server.\n')
            finish()
            return
          }
          replies++
        }
      } catch {
        errors++
        io.err('Error reading replies from server\n')
        finish()
      }
    })
    socket.on('error', (err: Error) => { socketError = err })
    socket.on('close', () => {
      if (finished) return
      if (halfClosed && socketError === null) {
        say('Last reply received from server.\n')
      } else {
        errors++
        io.err(`Error reading from the server: ${socketError?.message ?? 'connection closed'}\n`)
      }
      finish()
    })

    if (typeof input.setEncoding === 'function') input.setEncoding('latin1')
    input.pipe(lines)
  })
}
