// Exact reply bytes: one command at a time over a raw socket, its reply
// compared byte for byte with what Redis sends.

import type { Test } from 'tap'
import { command } from '../../lib/protocol/reply.js'
import { rawConnect, type Address } from './server.js'
import type { KeystoneNode } from '../../lib/index.js'

export type Exchange = (args: Array<string | Buffer>, expected: string | Buffer, message?: string) => Promise<void>

/** `expect(['GET', 'k'], '$1\r\nv\r\n')`: sends the command, waits for its one reply, asserts its bytes. */
export async function exactSession (t: Test, to: KeystoneNode | Address): Promise<Exchange> {
  const raw = await rawConnect(t, to)
  let seen = 0
  return async (args, expected, message) => {
    raw.send(command(args))
    await raw.replies(1)
    const got = raw.received.subarray(seen)
    seen += got.length
    const want = typeof expected === 'string' ? Buffer.from(expected, 'latin1') : expected
    t.equal(got.toString('latin1'), want.toString('latin1'), message ?? args.map(a => a.toString()).join(' '))
  }
}
