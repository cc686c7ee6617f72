import t from 'tap'
import { RespError } from '../../lib/protocol/reply-parser.js'
import { caller, connect, startNode } from '../helpers/server.js'

// INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT through a real socket, with Redis 7's replies and errors.

const err = (message: string): RespError => new RespError(message)
const NOT_INTEGER = err('ERR value is not an integer or out of range')
const OVERFLOW = err('ERR increment or decrement would overflow')
const NOT_FLOAT = err('ERR value is not a valid float')
const arity = (name: string): RespError => err(`ERR wrong number of arguments for '${name}' command`)

t.test('INCR, DECR, INCRBY, DECRBY', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('INCR', 'n'), 1, 'a missing key counts from 0')
  t.equal(await call('INCR', 'n'), 2)
  t.equal(await call('DECR', 'n'), 1)
  t.equal(await call('INCRBY', 'n', '41'), 42)
  t.equal(await call('DECRBY', 'n', '-8'), 50)
  t.equal(await call('DECRBY', 'n', '60'), -10)
  t.equal(await call('GET', 'n'), '-10', 'GET reads the decimal string')
  t.equal(await call('DECR', 'm'), -1)
  t.equal(await call('SET', 'n', '100'), 'OK')
  t.equal(await call('INCR', 'n'), 101, 'INCR on a SET value')
  t.equal(await call('SET', 'n', '7', 'EX', '100'), 'OK')
  t.equal(await call('INCR', 'n'), 8)
  t.equal(await call('TTL', 'n'), 100, 'INCR keeps the TTL')
  t.equal(await call('DEL', 'n'), 1)
  t.equal(await call('INCR', 'n'), 1, 'after DEL, from 0 again')
  t.equal(await call('EXISTS', 'n'), 1)
  t.same(await call('INCR'), arity('incr'))
  t.same(await call('INCRBY', 'n'), arity('incrby'))
  t.same(await call('DECRBY', 'n', '1', '2'), arity('decrby'))
})

t.test('values and increments that are not 64-bit integers', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  for (const v of ['abc', '', ' 1', '1 ', '01', '+1', '1.5', '-0', '9223372036854775808']) {
    await call('SET', 'k', v)
    t.same(await call('INCR', 'k'), NOT_INTEGER, `INCR on ${JSON.stringify(v)}`)
  }
  t.equal(await call('GET', 'k'), '9223372036854775808', 'a refused INCR changes nothing')
  t.same(await call('INCRBY', 'n', 'x'), NOT_INTEGER)
  t.same(await call('INCRBY', 'n', '1.0'), NOT_INTEGER)
  t.same(await call('INCRBY', 'n', '99999999999999999999'), NOT_INTEGER)
  t.equal(await call('SET', 'max', '9223372036854775807'), 'OK')
  t.same(await call('INCR', 'max'), OVERFLOW)
  t.equal(await call('INCRBY', 'max', '-9223372036854775807'), 0)
  t.equal(await call('SET', 'min', '-9223372036854775808'), 'OK')
  t.same(await call('DECR', 'min'), OVERFLOW)
  t.same(await call('DECRBY', 'n', '-9223372036854775808'), err('ERR decrement would overflow'))
  t.equal(await call('INCRBY', 'big', '9223372036854775807'), BigInt('9223372036854775807'), 'int64 replies past 2^53 are exact')
})

t.test('INCRBYFLOAT', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('INCRBYFLOAT', 'f', '10.5'), '10.5')
  t.equal(await call('INCRBYFLOAT', 'f', '0.1'), '10.6')
  t.equal(await call('INCRBYFLOAT', 'f', '-5.6'), '5')
  t.equal(await call('INCR', 'f'), 6, 'a float that is whole again takes INCR')
  t.equal(await call('INCRBYFLOAT', 'f', '5.0e3'), '5006')
  t.equal(await call('GET', 'f'), '5006')
  t.equal(await call('INCRBYFLOAT', 'f', '0.5'), '5006.5')
  t.same(await call('INCR', 'f'), NOT_INTEGER, 'INCR on a float')
  t.same(await call('INCRBYFLOAT', 'f', 'x'), NOT_FLOAT)
  t.same(await call('INCRBYFLOAT', 'f', ''), NOT_FLOAT)
  await call('SET', 's', 'abc')
  t.same(await call('INCRBYFLOAT', 's', '1'), NOT_FLOAT)
  await call('SET', 'huge', '1e308')
  t.same(await call('INCRBYFLOAT', 'huge', '1e308'), err('ERR increment would produce NaN or Infinity'))
  t.same(await call('INCRBYFLOAT', 'f', 'inf'), err('ERR increment would produce NaN or Infinity'))
  t.same(await call('INCRBYFLOAT', 'f'), arity('incrbyfloat'))
})

t.test('INCRBYFLOAT reads its increment as Redis does (strtold): hexadecimal too', async t => {
  // Found by the differential test: Redis answers 16 to INCRBYFLOAT k 0x10.
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  t.equal(await call('INCRBYFLOAT', 'h', '0x10'), '16')
  t.equal(await call('INCRBYFLOAT', 'h', '0X1A'), '42')
  t.equal(await call('INCRBYFLOAT', 'h', '-0x1.8p1'), '39', 'a point and a binary exponent')
  t.equal(await call('INCRBYFLOAT', 'h', '0x.8'), '39.5')
  t.equal(await call('INCRBYFLOAT', 'h', '1.'), '40.5')
  for (const bad of ['0x', '0x1p', '0x1g', '1e', '1e+', 'nan', '-NaN', 'inFIN', '2\x00ab', ' 1', '1e5000', '1e-5000']) {
    t.same(await call('INCRBYFLOAT', 'h', bad), NOT_FLOAT, `${JSON.stringify(bad)} is no float for Redis`)
  }
  t.equal(await call('INCRBYFLOAT', 'h', '0e-5000'), '40.5', 'zero is no underflow')
  // Found by the differential test: whole-number INCRBYFLOATs then a big INCRBY add exactly, as Redis's int64s do.
  t.equal(await call('INCRBYFLOAT', 'c', '0x10'), '16')
  t.equal(String(await call('INCRBY', 'c', '9007199254740991')), '9007199254741007')
  t.equal(await call('GET', 'c'), '9007199254741007')
  // Found by the differential test: Redis's long double sums two 64-bit integers exactly, a double gave 0.
  await call('SET', 'i', '-9223372036854775808')
  t.equal(await call('INCRBYFLOAT', 'i', '9223372036854775807'), '-1')
  t.equal(await call('INCRBYFLOAT', 'i', '9223372036854775807'), '9223372036854775806')
  t.equal(await call('INCRBYFLOAT', 'i', '9223372036854775807'), '18446744073709551613', 'past int64, still exact')
  t.same(await call('INCR', 'i'), NOT_INTEGER, 'past int64 it is no integer for INCR')
  await call('SET', 'half', '0.5')
  t.equal(await call('INCRBYFLOAT', 'half', '3'), '3.5', 'an integer increment to a float value')
  t.same(await call('INCRBYFLOAT', 'h', '-Infinity'), err('ERR increment would produce NaN or Infinity'))
  t.equal(await call('GET', 'h'), '40.5')
})

t.test('on a hash or a set: WRONGTYPE before anything is parsed of the value, and the key unchanged', async t => {
  const node = await startNode(t)
  const call = caller(await connect(t, node))
  const WRONGTYPE = err('WRONGTYPE Operation against a key holding the wrong kind of value')
  t.equal(await call('HSET', 'h', 'f', 'v'), 1)
  t.equal(await call('SADD', 's', 'm'), 1)
  for (const key of ['h', 's']) {
    t.same(await call('INCR', key), WRONGTYPE, `INCR ${key}`)
    t.same(await call('DECRBY', key, '2'), WRONGTYPE)
    t.same(await call('INCRBYFLOAT', key, '1.5'), WRONGTYPE)
    t.same(await call('INCRBYFLOAT', key, 'nope'), WRONGTYPE, 'the type is checked before the increment is read (Redis 7)')
  }
  t.same(await call('HGETALL', 'h'), ['f', 'v'])
  t.same(await call('SMEMBERS', 's'), ['m'])
  t.same(await call('INCRBY', 'h', 'nope'), NOT_INTEGER, "INCRBY's increment is read before the type")
})
