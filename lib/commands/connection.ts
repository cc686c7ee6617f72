import { createHash, timingSafeEqual } from 'node:crypto'
import { array, bulk, bulkText, EMPTY_ARRAY, error, integer, OK, PONG, simple, type Encoded } from '../protocol/reply.js'
import { CommandError, integerArg, text, upper } from './args.js'
import { ERRORS, errorText } from './errors.js'
import type { CommandContext, CommandTable, Session } from './types.js'

// PROTOCOL.md §Connection: PING, ECHO, QUIT, AUTH, HELLO, SELECT, CLIENT.

function ping (_ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length > 2) throw new CommandError(errorText('wrongArity', 'ping'))
  return args.length === 2 ? bulk(args[1]) : PONG
}

function echo (_ctx: CommandContext, args: Buffer[]): Encoded {
  return bulk(args[1])
}

function quit (ctx: CommandContext): Encoded {
  ctx.session.closeAfterReply = true
  return OK
}

const digest = (s: Buffer | string): Buffer => createHash('sha256').update(s).digest()

/** Constant-time: compares fixed-length digests, so timing says nothing about the password. */
export function passwordMatches (given: Buffer | string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/** AUTH password, or AUTH default password (the only user). */
function authenticate (ctx: CommandContext, user: string | null, password: Buffer): Encoded {
  const expected = ctx.node.options.requirepass
  if (expected === '') {
    if (user === null) return error(ERRORS.authNotConfigured)
    return user === 'default' ? OK : error(ERRORS.wrongPass)
  }
  if ((user === null || user === 'default') && passwordMatches(password, expected)) {
    ctx.session.authenticated = true
    return OK
  }
  return error(ERRORS.wrongPass)
}

function auth (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length > 3) throw new CommandError(ERRORS.syntax)
  return args.length === 3
    ? authenticate(ctx, text(args[1]), args[2] as Buffer)
    : authenticate(ctx, null, args[1] as Buffer)
}

/** HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only, so 3 is refused. */
function hello (ctx: CommandContext, args: Buffer[]): Encoded {
  if (args.length >= 2) {
    let version: number
    try {
      version = integerArg(args[1])
    } catch {
      throw new CommandError(ERRORS.protoVersion)
    }
    if (version !== 2) return error(ERRORS.noProto)
  }
  let name: string | null = null
  let credentials: [string, Buffer] | null = null
  for (let i = 2; i < args.length; i++) {
    const option = upper(args[i])
    if (option === 'AUTH' && i + 2 < args.length) {
      credentials = [text(args[i + 1]), args[i + 2] as Buffer]
      i += 2
    } else if (option === 'SETNAME' && i + 1 < args.length) {
      name = text(args[++i])
      checkName(name)
    } else {
      throw new CommandError(ERRORS.syntax)
    }
  }
  // Everything is checked before AUTH takes effect: a refused HELLO changes nothing.
  if (credentials !== null) {
    const reply = authenticate(ctx, credentials[0], credentials[1])
    if (reply !== OK) return reply
  }
  if (!ctx.session.authenticated) return error(ERRORS.noAuth)
  if (name !== null) ctx.session.name = name
  return array([
    bulk('server'), bulk('keystone'),
    bulk('version'), bulk(ctx.node.version),
    bulk('proto'), integer(2),
    bulk('id'), integer(ctx.session.id),
    bulk('mode'), bulk('standalone'),
    bulk('role'), bulk('master'),
    bulk('modules'), EMPTY_ARRAY
  ])
}

function select (_ctx: CommandContext, args: Buffer[]): Encoded {
  let index: number
  try {
    index = integerArg(args[1])
  } catch {
    throw new CommandError(ERRORS.selectInvalid)
  }
  if (index !== 0) throw new CommandError(ERRORS.dbIndex)
  return OK
}

function checkName (name: string): void {
  if (/[^\x21-\x7e]/.test(name)) throw new CommandError(ERRORS.clientName)
}

function setName (session: Session, name: string): void {
  checkName(name)
  session.name = name
}

export function describeClient (s: Session, now: number): string {
  const age = Math.floor((now - s.createdAt) / 1000)
  const idle = Math.floor((now - s.lastCommandAt) / 1000)
  return `id=${s.id} addr=${s.addr} name=${s.name} age=${age} idle=${idle} db=0 cmd=${s.lastCommand} peer=${s.isPeer ? 1 : 0}`
}

/** CLIENT ID | GETNAME | SETNAME | SETINFO | LIST | INFO | HELP */
function client (ctx: CommandContext, args: Buffer[]): Encoded {
  const sub = upper(args[1])
  const now = Date.now()
  switch (sub) {
    case 'ID': return integer(ctx.session.id)
    case 'GETNAME': return bulk(ctx.session.name === '' ? null : ctx.session.name)
    case 'SETNAME':
      if (args.length !== 3) throw new CommandError(errorText('wrongArity', 'client|setname'))
      setName(ctx.session, text(args[2]))
      return OK
    case 'SETINFO': // client libraries announce themselves; accepted and ignored
      if (args.length !== 4) throw new CommandError(errorText('wrongArity', 'client|setinfo'))
      return OK
    case 'LIST':
      return bulkText([...ctx.node.sessions()].map(s => describeClient(s, now) + '\n').join(''))
    case 'INFO':
      return bulkText(describeClient(ctx.session, now) + '\n')
    case 'HELP':
      return array(['CLIENT ID', 'CLIENT GETNAME', 'CLIENT SETNAME <name>', 'CLIENT SETINFO <attr> <value>', 'CLIENT LIST', 'CLIENT INFO'].map(simple))
    default:
      throw new CommandError(errorText('unknownSubcommand', text(args[1]), 'CLIENT'))
  }
}

export const connectionCommands: CommandTable = {
  ping: { handler: ping, arity: -1, summary: 'PING [message]: PONG, or the message' },
  echo: { handler: echo, arity: 2, summary: 'ECHO message: the message' },
  quit: { handler: quit, arity: -1, noAuth: true, runsInMulti: true, summary: 'QUIT: OK, then the server closes the connection' },
  auth: { handler: auth, arity: -2, noAuth: true, summary: 'AUTH [default] password' },
  hello: { handler: hello, arity: -1, noAuth: true, summary: 'HELLO [2 [AUTH default password] [SETNAME name]]: server facts; 3 is refused' },
  select: { handler: select, arity: 2, summary: 'SELECT 0: there is one database' },
  client: { handler: client, arity: -2, subcommands: { id: 2, getname: 2, setname: 3, setinfo: 4, list: -2, info: 2, help: 2 }, summary: 'CLIENT ID|GETNAME|SETNAME|SETINFO|LIST|INFO' }
}
