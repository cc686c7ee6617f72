// What the differential test sends: a table of command generators over a
// small key space and edge-case values, and sequences of them (single
// commands, MULTI blocks with WATCH and a second connection's writes).
// Commands a server lacks are left out by name (`supported`), so the test
// widens as commands land. How replies are compared is in diff-runner.ts.

import fc from 'fast-check'

/** An argument: bytes as latin1 text, or a time resolved when sent (so both servers get the same). */
export type Arg = string | { now: 'ms' | 's', plus: number }

export interface Step {
  /** 'a' runs the sequence (and its transactions); 'b' is the second client, writing under a WATCH. */
  conn: 'a' | 'b'
  args: Arg[]
  /** Sent as an inline line rather than a RESP array (only when every argument is plain). */
  inline: boolean
  /** A SCAN (or SSCAN) from cursor 0, followed to the end on each server; the sets of names seen are compared. */
  scanAll: boolean
}

/** Six keys: plain, empty, binary. */
export const KEYS = ['a', 'b', 'c', 'num', '', 'k\x00\xff\r\n'] as const

const LONG = 'x'.repeat(1000)
const VALUES = [
  '', 'v', 'hello world', '0', '1', '-1', '42', '-42', '007', '-0', '+1', ' 1', '1 ', '1\x00',
  '9223372036854775807', '-9223372036854775808', '9223372036854775806', '-9223372036854775807',
  '9223372036854775808', '-9223372036854775809', '18446744073709551616',
  '9007199254740991', '9007199254740992', '-9007199254740993',
  '3.14', '-0.5', '.5', '5.', '1e3', '1E-3', '0x1A', 'inf', '-inf', 'nan', '0.1', '10.50',
  '1.7976931348623157e308', '5e-324', '1.5e308', '\x00', '\x00\xff\x80\r\n', '\xc3\xa9',
  'x'.repeat(44), 'x'.repeat(45), LONG
]

/** Integers and near-integers for counts, offsets and increments. */
const INTS = [
  '0', '1', '-1', '2', '3', '10', '-10', '100', '1000000',
  '9223372036854775807', '-9223372036854775808', '9223372036854775808', '-9223372036854775809',
  '9007199254740991', '9007199254740992', '-9007199254740993',
  'abc', '', '1.5', ' 1', '01', '-0', '+5', '1e3'
]

const FLOATS = [
  '0', '1', '-1', '0.1', '-0.1', '1.5', '3.0e3', '1e308', '-1e308', '1.7976931348623157e308',
  'inf', '-inf', '+inf', 'nan', 'abc', '', '5e-324', '1.23456789012345678', '10.50', '.5', '-.5',
  '+1.5', ' 1', '0x10', '1e', '9223372036854775807'
]

// Expiry amounts. Relative ones are whole seconds (PX in multiples of 1000), and
// far off, so that TTL's rounding to the second is the same on both servers and
// nothing expires while a sequence runs (PROTOCOL.md §Differences from Redis).
const SECONDS = [
  '100', '1000', '100000', '0', '-1', '-100', 'abc', '', '1.5', '01',
  '9223372036854775807', '9223372036854775808', '9007199254740991', '9223372036854775', '900719925474', '9007199254740'
]
const MILLIS = ['100000', '1000000', '60000', '0', '-1', 'abc', '9223372036854775807', '9007199254740991', '9007199254740992']
const AT_SECONDS: Arg[] = [
  { now: 's', plus: 100 }, { now: 's', plus: 100000 }, { now: 's', plus: -10 }, '1', '0', '-1', 'abc', '9223372036854775807'
]
const AT_MILLIS: Arg[] = [
  { now: 'ms', plus: 100000 }, { now: 'ms', plus: 5000000 }, { now: 'ms', plus: -10000 }, '1', '0', '-1', 'abc', '9223372036854775807'
]
// SET with a time already past: Redis keeps the key (counted by DBSIZE) until its expiry cycle
// reclaims it, at a moment of its own, so SET gets only times to come (PROTOCOL.md §Differences from Redis).
const SET_AT_SECONDS = AT_SECONDS.filter(a => typeof a === 'string' ? a !== '1' : a.plus > 0)
const SET_AT_MILLIS = AT_MILLIS.filter(a => typeof a === 'string' ? a !== '1' : a.plus > 0)
const PATTERNS = ['*', 'a*', '?', '[ab]', '[^a]*', 'k*', 'k\\*', '\\', '[', '', 'num', '*\x00*', '[a-c]', 'n?m']
const OFFSETS = ['0', '1', '2', '-1', '-3', '100', '-100', '9223372036854775807', '-9223372036854775808', 'abc', '536870912']

// Hashes (PROTOCOL.md §Hashes): a few fields, values of at most 64 bytes so that a Redis hash
// stays a listpack (its order is then insertion order, as Keystone's) unless an HINCRBYFLOAT
// result grows past that (diff-runner.ts: hash-order).
const FIELDS = ['f', 'g', 'n', '', 'f\x00\xff', 'x'.repeat(64)]
const HVALUES = VALUES.filter(v => v.length <= 64)
// Negative HRANDFIELD counts stay small: Redis builds the reply however large (PROTOCOL.md §Differences from Redis).
const RANDFIELD_COUNTS = ['0', '1', '2', '3', '10', '-1', '-2', '-7', 'abc', '', '1.5', '-9223372036854775808', '9223372036854775807', '4611686018427387904']
const HSCAN_CURSORS = ['0', '0', '0', '5', 'x', '18446744073709551615', '18446744073709551616', '1.5']

// Sets (PROTOCOL.md §Sets): nine members, integers among them so that a Redis set is an intset
// (sorted) until a word, `01` or `''` makes it a hash table. Nine at most, so that one SSCAN of
// Redis's default COUNT 10 covers the whole table (it stops once it holds 10); no generator adds
// a member from elsewhere (SADD is not among `anyArgs`).
const MEMBERS = ['1', '2', '10', '-3', '01', '9223372036854775807', 'a', '', 'm\x00\xff']
// SPOP's counts: a negative one and one that is not an integer get the same error.
const SPOP_COUNTS = ['0', '1', '2', '3', '10', '-1', 'abc', '', '1.5', '9223372036854775807', '9223372036854775808', '-9223372036854775808']
const NUMKEYS = ['0', '-1', 'abc', '', '5', '9223372036854775807', '9223372036854775808']
const LIMITS = ['0', '1', '2', '100', '-1', 'abc', '', '9223372036854775807', '9223372036854775808']
// SSCAN sends only cursors that are 0 (in any spelling strtoul reads as 0) or invalid: Keystone
// ignores the cursor, Redis honours it into a hash table (PROTOCOL.md §Differences from Redis).
const SSCAN_CURSORS = ['0', '0', '0', '0', '', '+0', '-0', '00', 'x', ' 0', '0 ', '+', '-', '1.5', '18446744073709551616']
const SSCAN_PATTERNS = [...PATTERNS, '1*', '-*', '?', '*\x00*', '[0-9]*']

const key = fc.constantFrom(...KEYS)
const value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map(b => Buffer.from(b).toString('latin1')) }
)
const int = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...INTS) }, { weight: 1, arbitrary: fc.integer({ min: -1000, max: 1000 }).map(String) })
const float = fc.constantFrom(...FLOATS)
const field = fc.constantFrom(...FIELDS)
const hvalue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HVALUES) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map(b => Buffer.from(b).toString('latin1')) }
)
const fields = fc.array(field, { minLength: 1, maxLength: 3 })
const member = fc.constantFrom(...MEMBERS)
/** Set commands' keys: most often `a` or `b`, so that a sequence reads and combines the sets it made; any key now and then. */
const skey = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('a', 'b') }, { weight: 1, arbitrary: fc.constantFrom(...KEYS) })
const skeys = fc.array(skey, { minLength: 1, maxLength: 3 })
const members = fc.array(member, { minLength: 1, maxLength: 4 })
const pairs = fc.array(fc.tuple(field, hvalue), { minLength: 1, maxLength: 3 }).map(ps => ps.flat())
const keys = (min = 1): fc.Arbitrary<string[]> => fc.array(key, { minLength: min, maxLength: 4 })
/** An option word in random case. */
const word = (w: string): fc.Arbitrary<string> => fc.constantFrom(w, w.toLowerCase())
/** Optional trailing pieces, in random order (options whose order does not matter, or should not). */
const some = (...parts: Array<fc.Arbitrary<Arg[]>>): fc.Arbitrary<Arg[]> =>
  fc.shuffledSubarray(parts).chain(ps => ps.length === 0 ? fc.constant([]) : fc.tuple(...ps).map(xs => xs.flat()))
const opt = (w: string, arg?: fc.Arbitrary<Arg>): fc.Arbitrary<Arg[]> =>
  arg === undefined ? word(w).map(x => [x]) : fc.tuple(word(w), arg).map(([x, a]) => [x, a])

const setExpiry = fc.oneof(
  opt('EX', fc.constantFrom(...SECONDS)), opt('PX', fc.constantFrom(...MILLIS)),
  opt('EXAT', fc.constantFrom(...SET_AT_SECONDS)), opt('PXAT', fc.constantFrom(...SET_AT_MILLIS)), opt('KEEPTTL')
)
const expireOptions = fc.array(fc.constantFrom('NX', 'XX', 'GT', 'LT', 'nx', 'gt', 'FOO'), { maxLength: 3 })

/** Each command: the argument lists (after the name) that its generator makes. */
const COMMANDS: Record<string, fc.Arbitrary<Arg[]>> = {
  GET: key.map(k => [k]),
  SET: fc.tuple(key, value, some(
    fc.oneof(opt('NX'), opt('XX')), opt('GET'), setExpiry,
    fc.constantFrom<Arg[]>(['NX', 'XX'], ['EX', '100', 'PX', '100000'], ['KEEPTTL', 'EX', '100'], ['EX'], ['FOO'], ['GET', 'GET'])
  )).map(([k, v, rest]) => [k, v, ...rest]),
  MGET: keys(),
  MSET: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 3 }).map(ps => ps.flat()),
  DEL: keys(),
  UNLINK: keys(),
  EXISTS: keys(),
  TOUCH: keys(),
  EXPIRE: fc.tuple(key, fc.constantFrom(...SECONDS), expireOptions).map(([k, s, o]) => [k, s, ...o]),
  PEXPIRE: fc.tuple(key, fc.constantFrom(...MILLIS), expireOptions).map(([k, s, o]) => [k, s, ...o]),
  EXPIREAT: fc.tuple(key, fc.constantFrom(...AT_SECONDS), expireOptions).map(([k, s, o]) => [k, s, ...o]),
  PEXPIREAT: fc.tuple(key, fc.constantFrom(...AT_MILLIS), expireOptions).map(([k, s, o]) => [k, s, ...o]),
  TTL: key.map(k => [k]),
  PTTL: key.map(k => [k]),
  EXPIRETIME: key.map(k => [k]),
  PEXPIRETIME: key.map(k => [k]),
  PERSIST: key.map(k => [k]),
  KEYS: fc.constantFrom(...PATTERNS).map(p => [p]),
  DBSIZE: fc.constant([]),
  FLUSHALL: fc.constantFrom<Arg[]>([], ['SYNC'], ['async'], ['FOO']),
  FLUSHDB: fc.constantFrom<Arg[]>([], ['SYNC'], ['async'], ['FOO']),
  PING: fc.constantFrom<Arg[]>([], ['hello'], ['']),
  ECHO: value.map(v => [v]),
  INCR: key.map(k => [k]),
  DECR: key.map(k => [k]),
  INCRBY: fc.tuple(key, int),
  DECRBY: fc.tuple(key, int),
  INCRBYFLOAT: fc.tuple(key, float),
  APPEND: fc.tuple(key, value),
  STRLEN: key.map(k => [k]),
  GETRANGE: fc.tuple(key, fc.constantFrom(...OFFSETS), fc.constantFrom(...OFFSETS)),
  SUBSTR: fc.tuple(key, fc.constantFrom(...OFFSETS), fc.constantFrom(...OFFSETS)),
  SETRANGE: fc.tuple(key, fc.constantFrom(...OFFSETS), fc.constantFrom('', 'xyz', '\x00', 'hello world')),
  GETSET: fc.tuple(key, value),
  GETDEL: key.map(k => [k]),
  GETEX: fc.tuple(key, fc.oneof(
    fc.constant([]), setExpiry, opt('PERSIST'),
    fc.constantFrom<Arg[]>(['EX', '100', 'PERSIST'], ['KEEPTTL'], ['EX'], ['FOO'])
  )).map(([k, o]) => [k, ...o]),
  SETNX: fc.tuple(key, value),
  SETEX: fc.tuple(key, fc.constantFrom(...SECONDS), value),
  PSETEX: fc.tuple(key, fc.constantFrom(...MILLIS), value),
  MSETNX: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 3 }).map(ps => ps.flat()),
  TYPE: key.map(k => [k]),
  RENAME: fc.tuple(key, key),
  RENAMENX: fc.tuple(key, key),
  COPY: fc.tuple(key, key, some(opt('REPLACE'), opt('DB', fc.constantFrom('0', 'abc')), fc.constantFrom<Arg[]>(['FOO'], ['DB'])))
    .map(([a, b, o]) => [a, b, ...o]),
  RANDOMKEY: fc.constant([]),
  HSET: fc.tuple(key, pairs).map(([k, p]) => [k, ...p]),
  HMSET: fc.tuple(key, pairs).map(([k, p]) => [k, ...p]),
  HSETNX: fc.tuple(key, field, hvalue),
  HGET: fc.tuple(key, field),
  HMGET: fc.tuple(key, fields).map(([k, f]) => [k, ...f]),
  HDEL: fc.tuple(key, fields).map(([k, f]) => [k, ...f]),
  HLEN: key.map(k => [k]),
  HSTRLEN: fc.tuple(key, field),
  HEXISTS: fc.tuple(key, field),
  HKEYS: key.map(k => [k]),
  HVALS: key.map(k => [k]),
  HGETALL: key.map(k => [k]),
  HINCRBY: fc.tuple(key, field, int),
  HINCRBYFLOAT: fc.tuple(key, field, float),
  HRANDFIELD: fc.tuple(key, fc.oneof(
    fc.constant([]),
    fc.constantFrom(...RANDFIELD_COUNTS).map(c => [c]),
    fc.tuple(fc.constantFrom(...RANDFIELD_COUNTS, '-9223372036854775807'), word('WITHVALUES')).map(([c, w]) => [c, w]),
    fc.constantFrom<Arg[]>(['1', 'FOO'], ['1', 'WITHVALUES', 'x'])
  )).map(([k, o]) => [k, ...o]),
  HSCAN: fc.tuple(key, fc.constantFrom(...HSCAN_CURSORS), some(opt('MATCH', fc.constantFrom(...PATTERNS, 'f*', '?')), opt('COUNT', fc.constantFrom('1', '10', '0', '-1', 'abc')),
    fc.constantFrom<Arg[]>(['MATCH'], ['FOO', 'x'], ['NOVALUES']))).map(([k, c, o]) => [k, c, ...o]),
  // Single SSCAN replies are compared sorted (diff-runner.ts: set-order); a COUNT below 10 would
  // let Redis stop early in a hash table, so those go in SSCAN to the end (`generators`).
  SSCAN: fc.tuple(skey, fc.constantFrom(...SSCAN_CURSORS), some(opt('MATCH', fc.constantFrom(...SSCAN_PATTERNS)),
    opt('COUNT', fc.constantFrom('10', '1000', '0', '-1', 'abc', '')),
    fc.constantFrom<Arg[]>(['MATCH'], ['COUNT'], ['FOO', 'x'], ['NOVALUES'], ['TYPE', 'set']))).map(([k, c, o]) => [k, c, ...o]),
  // Its arity errors here, since SADD is not among `anyArgs` (MEMBERS above).
  SADD: fc.oneof({ weight: 12, arbitrary: fc.tuple(skey, members).map(([k, m]) => [k, ...m]) }, { weight: 1, arbitrary: fc.constantFrom<Arg[]>([], ['a']) }),
  SREM: fc.tuple(skey, members).map(([k, m]) => [k, ...m]),
  SMEMBERS: skey.map(k => [k]),
  SISMEMBER: fc.tuple(skey, member),
  SMISMEMBER: fc.tuple(skey, members).map(([k, m]) => [k, ...m]),
  SCARD: skey.map(k => [k]),
  SPOP: fc.tuple(skey, fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.constantFrom(...SPOP_COUNTS).map(c => [c]) },
    { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['1', '2'], ['1', 'x']) }
  )).map(([k, o]) => [k, ...o]),
  // Negative counts stay small, as HRANDFIELD's.
  SRANDMEMBER: fc.tuple(skey, fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 4, arbitrary: fc.constantFrom(...RANDFIELD_COUNTS, '-20').map(c => [c]) },
    { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['1', '2'], ['-1', 'WITHVALUES']) }
  )).map(([k, o]) => [k, ...o]),
  SMOVE: fc.tuple(skey, skey, member),
  SINTER: skeys,
  SUNION: skeys,
  SDIFF: skeys,
  SINTERSTORE: fc.tuple(skey, skeys).map(([d, ks]) => [d, ...ks]),
  SUNIONSTORE: fc.tuple(skey, skeys).map(([d, ks]) => [d, ...ks]),
  SDIFFSTORE: fc.tuple(skey, skeys).map(([d, ks]) => [d, ...ks]),
  // numkeys mostly right; else wrong, too many (the last keys read as options) or too few.
  SINTERCARD: fc.tuple(skeys, fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...NUMKEYS) },
    { weight: 1, arbitrary: fc.integer({ min: -1, max: 1 }) }
  ), some(opt('LIMIT', fc.constantFrom(...LIMITS)), fc.constantFrom<Arg[]>(['LIMIT'], ['FOO'], ['LIMIT', '1', 'LIMIT', '0'], ['limit', '1', 'x'])))
    .map(([ks, n, o]) => [n === null ? String(ks.length) : typeof n === 'number' ? String(ks.length + n) : n, ...ks, ...o]),
  OBJECT: fc.oneof(
    { weight: 5, arbitrary: key.map(k => ['ENCODING', k]) },
    { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['ENCODING'], ['encoding', 'a', 'b'], ['NOPE', 'a']) }
  )
}

/** The set commands (PROTOCOL.md §Sets), also generated on their own (`generators`). */
export const SET_COMMANDS: readonly string[] = ['SADD', 'SREM', 'SMEMBERS', 'SISMEMBER', 'SMISMEMBER', 'SCARD', 'SPOP', 'SRANDMEMBER', 'SMOVE',
  'SINTER', 'SINTERCARD', 'SUNION', 'SDIFF', 'SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE', 'SSCAN']

/** Commands that only make sense as part of a transaction; generated by `block`. */
const TRANSACTION = ['MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH'] as const

/** Every command name the generator can send: what to probe the servers for. */
export const COMMAND_NAMES: readonly string[] = [...Object.keys(COMMANDS), 'SCAN', ...TRANSACTION]

/** Arguments of `anyArgs` steps; with KEYS, every key a sequence can create. */
export const ARG_POOL = [...KEYS, 'v', '1', '-1', 'NX', 'XX', 'EX', '100', 'GET', 'COUNT', 'MATCH', '*', 'ENCODING', 'f', 'WITHVALUES']

/** The name sent: as written, or lower case, now and then. */
const name = (n: string): fc.Arbitrary<string> => fc.constantFrom(n, n, n, n.toLowerCase())

const plain = (args: Arg[]): boolean => args.every(a => typeof a !== 'string' || /^[A-Za-z0-9_:.+*-]+$/.test(a))

const step = (conn: 'a' | 'b', args: fc.Arbitrary<Arg[]>, scanAll = false): fc.Arbitrary<Step> =>
  fc.tuple(args, fc.integer({ min: 0, max: 4 })).map(([a, r]) => ({ conn, args: a, inline: r === 0 && plain(a), scanAll }))

/** The generators for the commands in `supported` (upper-case names). */
export function generators (supported: ReadonlySet<string>): {
  /** One command on connection `conn`: well formed with weight, else any arguments at all (arity and syntax errors). */
  command: (conn: 'a' | 'b', scans?: boolean) => fc.Arbitrary<Step>
  /** A whole sequence: single commands and transaction blocks (in half of them, after a few SADDs). */
  sequence: (maxItems: number) => fc.Arbitrary<Step[]>
} {
  const names = Object.keys(COMMANDS).filter(n => supported.has(n))
  if (names.length === 0) throw new Error('no command of the table is supported')
  /** One of the commands `ns`, with arguments from its generator. */
  const call = (ns: string[]): fc.Arbitrary<Arg[]> => fc.constantFrom(...ns).chain(n => fc.tuple(name(n), COMMANDS[n] as fc.Arbitrary<Arg[]>).map(([c, a]) => [c, ...a]))
  const wellFormed = call(names)
  // Random arguments could make a relative expiry of a few ms, which the two servers, a
  // moment apart, see on either side of: commands that take one get only their own generators.
  const relativeExpiry = /^(SET|SETEX|PSETEX|EXPIRE|PEXPIRE|GETEX)$/
  // Not MULTI and the like: a transaction opened here would queue a SCAN to the end (see `block`).
  // Nor HSCAN or SSCAN: a cursor such as `1` or `-1` (2^64 - 1 to strtoul) is a valid cursor
  // other than 0, which Keystone ignores (PROTOCOL.md §Differences from Redis); their own
  // generators leave them out. Nor SADD: a member from ARG_POOL could grow a set past MEMBERS.
  const anyArgs = fc.tuple(fc.constantFrom(...names.filter(n => !relativeExpiry.test(n) && !/^(HSCAN|SSCAN|SADD)$/.test(n)), 'NOPE'),
    fc.array(fc.constantFrom(...ARG_POOL), { maxLength: 4 })).map(([c, a]) => [c, ...a])
  const scan: Array<fc.WeightedArbitrary<Step>> = supported.has('SCAN')
    ? [
        {
          weight: 2,
          arbitrary: step('a', some(opt('MATCH', fc.constantFrom(...PATTERNS)), opt('COUNT', fc.constantFrom('1', '2', '10', '1000', '0', '-1', 'abc')),
            opt('TYPE', fc.constantFrom('string', 'STRING', 'hash', 'set', 'SET', 'none', 'foo')), fc.constantFrom<Arg[]>(['MATCH'], ['FOO', 'x'])).map(o => ['SCAN', '0', ...o]), true)
        },
        { weight: 1, arbitrary: step('a', fc.constantFrom<Arg[]>(['SCAN', 'x'], ['SCAN', '1x'], ['SCAN', '1.5'], ['SCAN', '99999999999999999999'], ['SCAN'])) }
      ]
    : []
  // SSCAN to the end: with a small COUNT, Redis's reply from a hash table is a part of it, and a cursor.
  if (supported.has('SSCAN')) {
    scan.push({
      weight: 1,
      arbitrary: step('a', fc.tuple(skey, some(opt('MATCH', fc.constantFrom(...SSCAN_PATTERNS)), opt('COUNT', fc.constantFrom('1', '2', '3', '10', '0', 'abc')),
        fc.constantFrom<Arg[]>(['MATCH'], ['FOO', 'x']))).map(([k, o]) => ['SSCAN', k, '0', ...o]), true)
    })
  }
  // Only SADD makes a set: with every command as likely as any other, a sequence would seldom
  // read a set it made. So set commands also come on their own, and sets are made a few at a
  // time (`makeSets` below).
  const setNames = names.filter(n => SET_COMMANDS.includes(n))
  const command = (conn: 'a' | 'b', scans = conn === 'a'): fc.Arbitrary<Step> => fc.oneof(
    { weight: 12, arbitrary: step(conn, wellFormed) },
    { weight: 2, arbitrary: step(conn, anyArgs) },
    ...(setNames.length > 0 ? [{ weight: 4, arbitrary: step(conn, call(setNames)) }] : []),
    ...(scans ? scan : [])
  )
  const has = (...ns: string[]): boolean => ns.every(n => supported.has(n))
  const items: Array<fc.WeightedArbitrary<Step[]>> = [{ weight: 10, arbitrary: command('a').map(s => [s]) }]
  // A few sets made at once: at the start of half the sequences, and now and then later.
  const sadd = step('a', fc.tuple(name('SADD'), skey, fc.array(member, { minLength: 1, maxLength: 6 })).map(([c, k, m]) => [c, k, ...m]))
  const makeSets = fc.array(sadd, { minLength: 1, maxLength: 3 })
  if (has('SADD')) items.push({ weight: 2, arbitrary: makeSets })
  const prelude = has('SADD') ? fc.option(makeSets, { freq: 2 }).map(s => s ?? []) : fc.constant([])
  if (has('MULTI', 'EXEC', 'DISCARD')) {
    const watch = has('WATCH')
      ? fc.option(step('a', keys().map(ks => ['WATCH', ...ks])), { freq: 2 }).map(s => s === null ? [] : [s])
      : fc.constant([])
    const b = fc.array(command('b'), { maxLength: 2 })
    // Inside MULTI, now and then, what may not be queued: MULTI again, WATCH, or an unwatch.
    // A SCAN's batches differ by design, so inside MULTI (one call, queued) it is not generated.
    const inner = fc.oneof({ weight: 8, arbitrary: command('a', false) },
      { weight: 1, arbitrary: step('a', fc.constantFrom<Arg[]>(['MULTI'], ['WATCH', 'a'], ...(has('UNWATCH') ? [['UNWATCH']] : []))) })
    const end = step('a', fc.oneof({ weight: 4, arbitrary: fc.constant<Arg[]>(['EXEC']) }, { weight: 1, arbitrary: fc.constant<Arg[]>(['DISCARD']) }))
    const block = fc.tuple(watch, b, step('a', fc.constant(['MULTI'])), fc.array(inner, { maxLength: 5 }), b, end)
      .map(([w, b1, m, i, b2, e]) => [...w, ...b1, m, ...i, ...b2, e])
    items.push({ weight: 3, arbitrary: block })
    // Out of place: EXEC or DISCARD without MULTI, a lone WATCH or UNWATCH.
    const stray: Arg[][] = [['EXEC'], ['DISCARD'], ['EXEC', 'x'], ['MULTI', 'x']]
    if (has('WATCH')) stray.push(['WATCH'])
    if (has('UNWATCH')) stray.push(['UNWATCH'], ['UNWATCH', 'a'])
    items.push({ weight: 1, arbitrary: step('a', fc.constantFrom(...stray)).map(s => [s]) })
  }
  return {
    command,
    sequence: (maxItems: number) => fc.tuple(prelude, fc.array(fc.oneof(...items), { minLength: 1, maxLength: maxItems })).map(([p, xs]) => [...p, ...xs.flat()])
  }
}
