import t from 'tap'
import { exactSession } from '../helpers/exact.js'
import { startNode } from '../helpers/server.js'

// EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME, and the NX/XX/GT/LT options:
// exact reply bytes, as redis-server 7.0.15 sends them.

const FAR = '99999999999' // seconds: the year 5138

t.test('EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'k', 'v'], '+OK\r\n')
  await x(['EXPIRETIME', 'k'], ':-1\r\n')
  await x(['PEXPIRETIME', 'k'], ':-1\r\n')
  await x(['EXPIRETIME', 'nokey'], ':-2\r\n')
  await x(['PEXPIRETIME', 'nokey'], ':-2\r\n')
  await x(['EXPIREAT', 'k', FAR], ':1\r\n')
  await x(['EXPIRETIME', 'k'], `:${FAR}\r\n`)
  await x(['PEXPIRETIME', 'k'], `:${FAR}000\r\n`)
  await x(['PEXPIREAT', 'k', `${FAR}123`], ':1\r\n')
  await x(['PEXPIRETIME', 'k'], `:${FAR}123\r\n`)
  await x(['EXPIRETIME', 'k'], `:${FAR}\r\n`, 'seconds: rounded to the nearest')
  // As Redis's (ms + 500) / 1000; it was rounded down (found by the differential test).
  await x(['PEXPIREAT', 'k', `${FAR}499`], ':1\r\n')
  await x(['EXPIRETIME', 'k'], `:${FAR}\r\n`, '.499 s: down')
  await x(['PEXPIREAT', 'k', `${FAR}500`], ':1\r\n')
  await x(['EXPIRETIME', 'k'], ':100000000000\r\n', '.500 s: up')
  await x(['PEXPIREAT', 'k', `${FAR}999`], ':1\r\n')
  await x(['EXPIRETIME', 'k'], ':100000000000\r\n', '.999 s: up')
  await x(['EXPIREAT', 'nokey', FAR], ':0\r\n')
  await x(['EXPIREAT', 'k', '1'], ':1\r\n', 'a time already past deletes the key')
  await x(['EXISTS', 'k'], ':0\r\n')
  await x(['SET', 'k', 'v'], '+OK\r\n')
  await x(['PEXPIREAT', 'k', '0'], ':1\r\n')
  await x(['EXISTS', 'k'], ':0\r\n')
  await x(['EXPIREAT', 'k', 'a'], '-ERR value is not an integer or out of range\r\n')
  await x(['EXPIREAT', 'k', '10', 'FOO'], '-ERR Unsupported option FOO\r\n')
  await x(['EXPIREAT', 'k', 'a', 'FOO'], '-ERR Unsupported option FOO\r\n', 'options are checked before the number')
  await x(['EXPIREAT', 'k'], "-ERR wrong number of arguments for 'expireat' command\r\n")
  await x(['EXPIRETIME'], "-ERR wrong number of arguments for 'expiretime' command\r\n")
})

t.test('NX, XX, GT, LT', async t => {
  const node = await startNode(t)
  const x = await exactSession(t, node)
  await x(['SET', 'k', 'v'], '+OK\r\n')
  await x(['EXPIRE', 'k', '100', 'GT'], ':0\r\n', 'GT on a key without TTL: no TTL counts as infinite')
  await x(['EXPIREAT', 'k', FAR, 'GT'], ':0\r\n')
  await x(['TTL', 'k'], ':-1\r\n')
  await x(['EXPIRE', 'k', '100', 'XX'], ':0\r\n', 'XX without TTL')
  await x(['EXPIRE', 'k', '100', 'LT'], ':1\r\n', 'LT on a key without TTL sets it')
  await x(['EXPIRE', 'k', '200', 'NX'], ':0\r\n', 'NX with a TTL')
  await x(['EXPIRE', 'k', '50', 'GT'], ':0\r\n')
  await x(['EXPIRE', 'k', '200', 'gt'], ':1\r\n')
  await x(['TTL', 'k'], ':200\r\n')
  await x(['EXPIRE', 'k', '300', 'LT'], ':0\r\n')
  await x(['EXPIRE', 'k', '150', 'LT', 'XX'], ':1\r\n')
  await x(['TTL', 'k'], ':150\r\n')
  await x(['EXPIREAT', 'k', '1', 'GT'], ':0\r\n', 'a past time that GT refuses does not delete')
  await x(['EXISTS', 'k'], ':1\r\n')
  await x(['PEXPIREAT', 'k', '1', 'LT'], ':1\r\n')
  await x(['EXISTS', 'k'], ':0\r\n')
  await x(['EXPIRE', 'k', '10', 'NX', 'XX'], '-ERR NX and XX, GT or LT options at the same time are not compatible\r\n')
  await x(['EXPIREAT', 'k', '10', 'GT', 'LT'], '-ERR GT and LT options at the same time are not compatible\r\n')
})
