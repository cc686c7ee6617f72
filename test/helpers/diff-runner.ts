// Runs a differential sequence: each step goes to Redis and to Keystone over
// raw sockets at the same moment, and the replies must be the same bytes.
// Where a reply cannot be the same (time, order, randomness, or a difference
// PROTOCOL.md §Differences from Redis documents), a named rule says what is
// compared instead; the rules are the `Rule` names below, and nothing else
// is let through.

import net from 'node:net'
import { ARG_POOL, SET_COMMANDS, type Arg, type Step } from './diff-commands.js'
import { ReplyFramer, showBytes, type Frame, type Reply } from './resp-frames.js'
import type { Address, Teardown } from './server.js'

/** A socket that sends requests and takes their replies in order. */
export class DiffConnection {
  private readonly framer = new ReplyFramer()
  private readonly waiting: Array<{ resolve: (f: Frame) => void, reject: (e: Error) => void }> = []
  private failure: Error | null = null

  private constructor (private readonly socket: net.Socket, readonly label: string) {
    socket.on('data', chunk => {
      try {
        this.framer.feed(chunk)
        for (let f = this.framer.next(); f !== undefined; f = this.framer.next()) this.waiting.shift()?.resolve(f)
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)))
      }
    })
    socket.on('error', err => this.fail(err))
    socket.on('close', () => this.fail(new Error(`${label} closed the connection`)))
  }

  static async open (t: Teardown, address: Address, label: string): Promise<DiffConnection> {
    const socket = net.connect(address)
    t.teardown(() => socket.destroy())
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    socket.setNoDelay(true)
    return new DiffConnection(socket, label)
  }

  /** Sends the bytes of one request; resolves with its reply (5 s at most). */
  request (bytes: Buffer): Promise<Frame> {
    if (this.failure !== null) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no reply within 5 s`)), 5000)
      this.waiting.push({ resolve: f => { clearTimeout(timer); resolve(f) }, reject: e => { clearTimeout(timer); reject(e) } })
      this.socket.write(bytes)
    })
  }

  private fail (err: Error): void {
    this.failure ??= err
    for (const w of this.waiting.splice(0)) w.reject(err)
  }
}

/** One server's two clients. */
export interface Side { a: DiffConnection, b: DiffConnection }

/** The request bytes: a RESP array of bulk strings, or an inline line. */
export function encode (args: string[], inline: boolean): Buffer {
  if (inline) return Buffer.from(args.join(' ') + '\r\n', 'latin1')
  const parts = [`*${args.length}\r\n`]
  for (const a of args) parts.push(`$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`)
  return Buffer.from(parts.join(''), 'latin1')
}

function resolve (arg: Arg, now: number): string {
  if (typeof arg === 'string') return arg
  return String(arg.now === 'ms' ? now + arg.plus : Math.floor(now / 1000) + arg.plus)
}

/** A step as a person reads it (and could type it into redis-cli). */
export function showStep (step: Step): string {
  const args = step.args.map(a => typeof a === 'string' ? (/^[!-~]+$/.test(a) && !/["'\\]/.test(a) ? a : JSON.stringify(a)) : `<now_${a.now}${a.plus >= 0 ? '+' : ''}${a.plus}>`)
  return `${step.conn.toUpperCase()}${step.inline ? ' (inline)' : ''}${step.scanAll ? ' (to the end)' : ''}> ${args.join(' ')}`
}

/**
 * Why a reply may differ. Each is listed, with its reason, in PROTOCOL.md
 * §Differences from Redis. `diverges`: the two stores may now differ, so the
 * rest of the sequence is not compared.
 */
export type Rule = 'option-case' | 'keys-order' | 'pttl-drift' | 'randomkey' | 'object-encoding' | 'float-format' | 'integer-range' | 'hash-order' | 'hrandfield' |
  'set-order' | 'srandmember' | 'spop'
const DIVERGING: ReadonlySet<Rule> = new Set<Rule>(['float-format', 'integer-range', 'spop'])

/** PTTL and PEXPIRETIME: the servers run a step a few ms apart. */
export const PTTL_TOLERANCE_MS = 250
const SAFE = 2 ** 53 - 1
/** Half of 1e-17, the last of the 17 decimal places to which Redis rounds INCRBYFLOAT's result. */
const HALF_LAST_PLACE = 5e-18
const NOT_INTEGER = '-ERR value is not an integer or out of range\r\n'

const isInt = (r: Reply): r is { type: ':', text: string } => r.type === ':'
const bulkText = (r: Reply): string | null => r.type === '$' && r.data !== null ? r.data.toString('latin1') : null
/** An array's items as text, sorted (a nil item as a NUL and `nil`). */
const sortedTexts = (items: Reply[]): string => JSON.stringify(items.map(i => bulkText(i) ?? '\u0000nil').sort())
const distinct = (items: Reply[]): boolean => new Set(items.map(i => bulkText(i) ?? '\u0000nil')).size === items.length

/**
 * SPOP and SRANDMEMBER, which differ: with no count, both one member; with a count, arrays of
 * the same length, of distinct members for a positive count. The same members in another order
 * is `set-order` (the whole set, or SPOP taking the same members: the stores are still equal);
 * a positive count beyond the reply's length means the whole set, which must be the same.
 */
function randomMembers (name: string, args: string[], r: Reply, k: Reply): Rule | null {
  const random: Rule = name === 'SPOP' ? 'spop' : 'srandmember'
  if (args.length === 2) return bulkText(r) !== null && bulkText(k) !== null ? random : null
  const count = /^-?\d+$/.test(args[2] ?? '') ? BigInt(args[2] as string) : null
  if (count === null || r.type !== '*' || k.type !== '*' || r.items === null || k.items === null || r.items.length !== k.items.length) return null
  if (count < 0n) return random
  if (!distinct(r.items) || !distinct(k.items)) return null
  if (sortedTexts(r.items) === sortedTexts(k.items)) return 'set-order'
  return BigInt(k.items.length) < count ? null : random
}

/** The rule under which `redis` and `keystone` (which differ) are equivalent for `args`, or null. */
function equivalent (args: string[], redis: Frame, keystone: Frame): Rule | null {
  const name = (args[0] ?? '').toUpperCase()
  const sub = (args[1] ?? '').toUpperCase()
  const r = redis.value
  const k = keystone.value
  // PROTOCOL.md §Integers: Keystone reads integers within ±(2^53 − 1), and expiry times in ms within that;
  // set commands read the whole 64-bit range, as Redis (a member such as 9223372036854775807 is no integer argument).
  const huge = (!SET_COMMANDS.includes(name) && args.some(a => /^-?\d+$/.test(a) && Math.abs(Number(a)) > SAFE)) ||
    (/EXPIRE|^SET|^PSETEX|^GETEX/.test(name) && args.some(a => /^-?\d+$/.test(a) && Math.abs(Number(a)) * 1000 + Date.now() > SAFE))
  if (huge && (keystone.raw.toString('latin1') === NOT_INTEGER || (k.type === '-' && k.text.startsWith('ERR invalid expire time')))) return 'integer-range'
  // PROTOCOL.md §Differences from Redis: Keystone names an unsupported expiry option in upper case
  // (and whole, where Redis stops at a NUL), so only the error is compared.
  if (r.type === '-' && k.type === '-' && r.text.startsWith('ERR Unsupported option ') && k.text.startsWith('ERR Unsupported option ')) return 'option-case'
  if (name === 'KEYS' && r.type === '*' && k.type === '*' && r.items !== null && k.items !== null) {
    const sort = (items: Reply[]): string[] => items.map(i => bulkText(i) ?? '\u0000nil').sort()
    if (JSON.stringify(sort(r.items)) === JSON.stringify(sort(k.items))) return 'keys-order'
  }
  // PROTOCOL.md §Hashes, order: Redis lists a hash converted to a hash table in its table's order.
  if (/^(HKEYS|HVALS|HGETALL|HSCAN)$/.test(name)) {
    const items = (x: Reply): Reply[] | null => name === 'HSCAN'
      ? (x.type === '*' && x.items?.[1]?.type === '*' && bulkText(x.items[0] as Reply) === '0' ? x.items[1].items : null)
      : (x.type === '*' ? x.items : null)
    const a = items(r)
    const b = items(k)
    const sorted = (xs: Reply[]): string => {
      const texts = xs.map(i => bulkText(i) ?? '\u0000nil')
      if (name === 'HKEYS' || name === 'HVALS') return JSON.stringify(texts.sort())
      const ps: string[] = []
      for (let i = 0; i < texts.length; i += 2) ps.push(JSON.stringify([texts[i], texts[i + 1]]))
      return JSON.stringify(ps.sort())
    }
    if (a != null && b != null && sorted(a) === sorted(b)) return 'hash-order'
  }
  // PROTOCOL.md §Sets, order: Redis lists an intset sorted and a hash table in its order; Keystone
  // in the order members were added. SSCAN: both the whole set, cursor 0 (its generator's
  // cursors are 0 or invalid, its sets small: diff-commands.ts MEMBERS).
  if (/^(SMEMBERS|SINTER|SUNION|SDIFF)$/.test(name) && r.type === '*' && k.type === '*' && r.items !== null && k.items !== null &&
    sortedTexts(r.items) === sortedTexts(k.items)) return 'set-order'
  if (name === 'SSCAN') {
    const items = (x: Reply): Reply[] | null => x.type === '*' && x.items?.[1]?.type === '*' && bulkText(x.items[0] as Reply) === '0' ? x.items[1].items : null
    const a = items(r)
    const b = items(k)
    if (a != null && b != null && sortedTexts(a) === sortedTexts(b)) return 'set-order'
  }
  if (name === 'SPOP' || name === 'SRANDMEMBER') return randomMembers(name, args, r, k)
  // HRANDFIELD is random: the same kind of reply, of the same length.
  if (name === 'HRANDFIELD') {
    if (r.type === '$' && k.type === '$' && r.data !== null && k.data !== null) return 'hrandfield'
    if (r.type === '*' && k.type === '*' && r.items !== null && k.items !== null && r.items.length === k.items.length) return 'hrandfield'
  }
  if ((name === 'PTTL' || name === 'PEXPIRETIME') && isInt(r) && isInt(k)) {
    const a = Number(r.text)
    const b = Number(k.text)
    if (a >= 0 && b >= 0 && Math.abs(a - b) <= PTTL_TOLERANCE_MS) return 'pttl-drift'
  }
  if (name === 'RANDOMKEY') {
    const a = bulkText(r)
    const b = bulkText(k)
    if (a !== null && b !== null && ARG_POOL.includes(a) && ARG_POOL.includes(b)) return 'randomkey'
  }
  if (name === 'OBJECT' && sub === 'ENCODING' && bulkText(r) !== null && bulkText(k) !== null) return 'object-encoding'
  if (name === 'INCRBYFLOAT' || name === 'HINCRBYFLOAT') {
    const a = bulkText(r)
    const b = bulkText(k)
    // Redis rounds to 17 decimal places (%.17Lf): up to 5e-18 off, 0 for anything smaller; Keystone does not round.
    if (a !== null && b !== null && Math.abs(Number(a) - Number(b)) <= HALF_LAST_PLACE + 1e-12 * Math.max(Math.abs(Number(a)), Math.abs(Number(b)))) return 'float-format'
    // A result beyond a double's range (but not a long double's) is an error in Keystone only.
    const big = (x: string | null): boolean => x !== null && !(Math.abs(Number(x)) <= Number.MAX_VALUE)
    if ((big(a) && k.type === '-') || (big(b) && r.type === '-')) return 'float-format'
  }
  return null
}

export interface Outcome {
  /** Steps whose replies were compared. */
  compared: number
  /** How often each rule let a difference through. */
  rules: Map<Rule, number>
}

interface Pending { redis: Frame, keystone: Frame }

/**
 * Runs `steps` on both sides (after FLUSHALL and ending any open MULTI and
 * WATCH); throws an Error whose message is the transcript when replies differ.
 */
export async function runSequence (redis: Side, keystone: Side, steps: Step[], resets: string[][], outcome: Outcome): Promise<void> {
  for (const args of resets) {
    for (const c of ['a', 'b'] as const) {
      await Promise.all([redis[c].request(encode(args, false)), keystone[c].request(encode(args, false))])
    }
  }
  const transcript: string[] = []
  // Keys an increment has succeeded on at Keystone: they hold counter state, so a value written over one is read back at once.
  const counters = new Set<string>()
  // The steps queued by MULTI on each connection (Redis's view), to compare EXEC's array element by element.
  const queued: Record<'a' | 'b', string[][] | null> = { a: null, b: null }
  for (const step of steps) {
    const name = typeof step.args[0] === 'string' ? step.args[0].toUpperCase() : ''
    // TTL rounds to the second: keep the servers from straddling a half second (PROTOCOL.md §Differences from Redis).
    if (/^(SET|SETEX|PSETEX|GETEX|EXPIRE|PEXPIRE|TTL|EXPIRETIME|EXEC)$/.test(name)) {
      const phase = Date.now() % 1000
      if (phase >= 470 && phase < 530) await new Promise(resolve => setTimeout(resolve, 530 - phase))
    }
    if (step.scanAll && queued[step.conn] !== null) throw new Error('generator bug: a SCAN to the end inside MULTI')
    const args = step.args.map(a => resolve(a, Date.now()))
    transcript.push(showStep(step))
    const got = step.scanAll
      ? await scanAll(redis[step.conn], keystone[step.conn], args)
      : await both(redis[step.conn], keystone[step.conn], encode(args, step.inline))
    transcript.push(`  redis:    ${showBytes(got.redis.raw)}`, `  keystone: ${showBytes(got.keystone.raw)}`)
    outcome.compared++
    let rule: Rule | null = null
    if (!got.redis.raw.equals(got.keystone.raw)) {
      const q = queued[step.conn]
      // A SCAN to the end is compared as sorted key sets already (scanAll).
      rule = step.scanAll ? null : name === 'EXEC' && q !== null ? execEquivalent(q, got) : equivalent(args, got.redis, got.keystone)
      if (rule === null) {
        transcript.push('  ^ the replies differ')
        throw new Error(transcript.join('\n'))
      }
      outcome.rules.set(rule, (outcome.rules.get(rule) ?? 0) + 1)
    }
    const q = queued[step.conn]
    const reply = got.redis.value
    if (name === 'MULTI' && q === null && reply.type === '+') queued[step.conn] = []
    else if ((name === 'EXEC' || name === 'DISCARD') && q !== null) queued[step.conn] = null
    else if (q !== null && reply.type === '+' && reply.text === 'QUEUED') q.push(args)
    if (rule !== null && DIVERGING.has(rule)) return
    if (/^(INCR|DECR|INCRBY|DECRBY|INCRBYFLOAT)$/.test(name) && got.keystone.value.type !== '-' && args[1] !== undefined) counters.add(args[1])
    else if (queued[step.conn] === null && !step.scanAll) {
      // A value written over counter state: read back at once, as written (PROTOCOL.md §Counters).
      for (const k of new Set(args.slice(1).filter(a => counters.has(a)))) {
        const value = await both(redis[step.conn], keystone[step.conn], encode(['GET', k], false))
        if (value.redis.raw.equals(value.keystone.raw)) continue
        transcript.push(`  then GET ${JSON.stringify(k)}`, `  redis:    ${showBytes(value.redis.raw)}`, `  keystone: ${showBytes(value.keystone.raw)}`, '  ^ the values differ')
        throw new Error(transcript.join('\n'))
      }
    }
  }
}

async function both (redis: DiffConnection, keystone: DiffConnection, bytes: Buffer): Promise<Pending> {
  const [r, k] = await Promise.all([redis.request(bytes), keystone.request(bytes)])
  return { redis: r, keystone: k }
}

/** EXEC's arrays: each element judged as its own command's reply. */
function execEquivalent (queued: string[][], got: Pending): Rule | null {
  const r = got.redis.value
  const k = got.keystone.value
  if (r.type !== '*' || k.type !== '*' || r.items === null || k.items === null || r.items.length !== k.items.length) return null
  let rule: Rule | null = null
  for (let i = 0; i < r.items.length; i++) {
    const ri = frameOf(r.items[i] as Reply)
    const ki = frameOf(k.items[i] as Reply)
    if (ri.raw.equals(ki.raw)) continue
    const each = equivalent(queued[i] ?? [], ri, ki)
    if (each === null) return null
    if (DIVERGING.has(each)) return each // the servers' data may differ from here: the rest is not compared
    rule = each
  }
  return rule
}

/** A reply's bytes again (an element of an array). */
function frameOf (value: Reply): Frame {
  const out: string[] = []
  const put = (v: Reply): void => {
    if (v.type === '$') out.push(v.data === null ? '$-1\r\n' : `$${v.data.length}\r\n${v.data.toString('latin1')}\r\n`)
    else if (v.type === '*') {
      out.push(v.items === null ? '*-1\r\n' : `*${v.items.length}\r\n`)
      for (const i of v.items ?? []) put(i)
    } else out.push(`${v.type}${v.text}\r\n`)
  }
  put(value)
  return { raw: Buffer.from(out.join(''), 'latin1'), value }
}

/**
 * SCAN (or SSCAN key) from cursor 0 to the end on each side. Cursors and batches
 * differ by design (PROTOCOL.md §SCAN, §SSCAN), so the result is one array of the
 * names seen, sorted and without repeats; an error is the first call's reply as it came.
 */
async function scanAll (redis: DiffConnection, keystone: DiffConnection, args: string[]): Promise<Pending> {
  const at = (args[0] ?? '').toUpperCase() === 'SCAN' ? 1 : 2
  const run = async (c: DiffConnection): Promise<Frame> => {
    const seen = new Set<string>()
    let cursor = '0'
    for (let calls = 0; calls < 10000; calls++) {
      const f = await c.request(encode([...args.slice(0, at), cursor, ...args.slice(at + 1)], false))
      const v = f.value
      if (v.type !== '*') return f
      const [next, batch] = v.items ?? []
      if (next === undefined || batch === undefined || next.type !== '$' || next.data === null || batch.type !== '*') throw new Error(`bad SCAN reply ${showBytes(f.raw)}`)
      for (const item of batch.items ?? []) seen.add(bulkText(item) ?? '')
      cursor = next.data.toString('latin1')
      if (cursor === '0') return frameOf({ type: '*', items: [...seen].sort().map(s => ({ type: '$', data: Buffer.from(s, 'latin1') })) })
    }
    throw new Error('SCAN did not end within 10000 calls')
  }
  const [r, k] = await Promise.all([run(redis), run(keystone)])
  return { redis: r, keystone: k }
}
