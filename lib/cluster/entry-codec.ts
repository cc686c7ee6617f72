import { CommandError, keyOf, text } from '../commands/args.js'
import { errorText } from '../commands/errors.js'
import { command, type Encoded } from '../protocol/reply.js'
import { parseInteger } from '../protocol/request-parser.js'
import type { Entry } from '../store/entry.js'

// PROTOCOL.md §Cluster: how an entry travels between nodes. In REPL and in SYNC
// pages an entry is six fields: key, wall, logical, node, expiresAt, value
// (a tombstone has no value in REPL and a nil value in SYNC pages).

/** `REPL key wall logical node expiresAt [value]` as request bytes. */
export function replRequest (key: string, entry: Entry): Encoded {
  const args: Array<string | Buffer> = ['REPL', key, String(entry.wall), String(entry.logical), entry.node, String(entry.expiresAt)]
  if (entry.value !== null) args.push(entry.value)
  return command(args)
}

function integerField (arg: Buffer | undefined, what: string): number {
  const n = arg === undefined || arg.length > 16 || arg[0] === 45 ? null : parseInteger(arg, 0, arg.length)
  if (n === null) throw new CommandError(errorText('invalidEntryField', what))
  return n
}

/** The last node id decoded: every REPL from one peer carries the same one. */
let lastNode: { bytes: Buffer, text: string } | null = null

function nodeField (arg: Buffer | undefined): string {
  if (arg === undefined || arg.length === 0) throw new CommandError(errorText('invalidEntryField', 'node'))
  if (lastNode !== null && lastNode.bytes.equals(arg)) return lastNode.text
  lastNode = { bytes: Buffer.from(arg), text: text(arg) }
  return lastNode.text
}

/** Reads the version and expiry fields at args[at..at+3]; value is supplied by the caller. */
export function decodeEntry (args: Buffer[], at: number, value: Buffer | null): { key: string, entry: Entry } {
  const node = nodeField(args[at + 3])
  return {
    key: keyOf(args[at]),
    entry: {
      wall: integerField(args[at + 1], 'wall'),
      logical: integerField(args[at + 2], 'logical'),
      node,
      expiresAt: integerField(args[at + 4], 'expiresAt'),
      value
    }
  }
}
