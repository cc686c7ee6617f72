import { error, type Encoded } from '../protocol/reply.js'
import { CommandError } from './args.js'
import { ERRORS } from './errors.js'
import type { CommandContext, CommandSpec } from './types.js'

/** Runs a looked-up command; argument errors become error replies, never throws. */
export function run (spec: CommandSpec, ctx: CommandContext, args: Buffer[]): Encoded | Promise<Encoded> {
  try {
    const reply = spec.handler(ctx, args)
    return typeof reply === 'string' || Buffer.isBuffer(reply) ? reply : reply.catch(failure(ctx))
  } catch (err) {
    return failure(ctx)(err)
  }
}

function failure (ctx: CommandContext) {
  return (err: unknown): Encoded => {
    if (err instanceof CommandError) return error(err.message)
    ctx.node.log.error(`command failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return error(ERRORS.internal)
  }
}
