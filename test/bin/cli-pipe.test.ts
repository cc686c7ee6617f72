import { spawn, spawnSync } from 'node:child_process'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { connect, holdFor, ROOT, startNode, tempDir, type Teardown } from '../helpers/server.js'
import type { KeystoneNode } from '../../lib/index.js'

// bin/keystone-cli --pipe and --raw, the real binary, against a node in this
// process. CONTRACT §Programs: `--pipe` sends stdin (inline lines or raw RESP)
// pipelined and ends, as `redis-cli --pipe`, with `errors: N, replies: M`
// (exit 1 if N > 0); `--raw` prints replies unquoted.

t.jobs = 4

const at = (node: KeystoneNode): string => `${node.address().host}:${node.address().port}`
const haveRedisCli = spawnSync('sh', ['-c', 'command -v redis-cli'], { stdio: 'ignore' }).status === 0

interface Run { code: number | null, stdout: Buffer, stderr: string }

/**
 * Runs `command args < input` (the input from a file, as a user would) to the end;
 * stdout as bytes, so that binary output is checked exactly.
 */
async function run (t: Teardown, command: string, args: string[], input: Buffer | string = ''): Promise<Run> {
  const file = path.join(tempDir(t), 'input')
  writeFileSync(file, input)
  const fd = openSync(file, 'r')
  t.teardown(() => closeSync(fd))
  const child = spawn(command, args, { stdio: [fd, 'pipe', 'pipe'], env: { ...process.env, HOME: tempDir(t), NODE_OPTIONS: '' } })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (b: Buffer) => out.push(b))
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout: Buffer.concat(out), stderr }
}

const cli = async (t: Teardown, args: string[], input?: Buffer | string): Promise<Run> =>
  await run(t, process.execPath, [path.join(ROOT, 'bin', 'keystone-cli'), ...args], input)

/** A command as RESP, its arguments as bytes (strings as latin1). */
function resp (...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

const summary = (errors: number, replies: number): string =>
  `All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: ${errors}, replies: ${replies}\n`

/** Every byte value 0..255, CRLFs and lone LFs among them: a value split across lines. */
const BINARY = Buffer.concat([Buffer.from('line one\r\nline two\nend\r'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('\n')])

t.test('--pipe: inline and RESP, good and bad commands, binary values', async t => {
  const node = await startNode(t)
  const parts = [
    Buffer.from('SET a 1\r\n'), // inline, CRLF
    Buffer.from('SET "two words" \'x y\'\n'), // inline, LF, quotes
    resp('SET', 'bin', BINARY), // RESP: the value holds CR, LF and every byte
    Buffer.from('\n   \r\n'), // blank lines: the server ignores them, no reply
    Buffer.from('NOPE x\n'), // an unknown command: an error reply
    resp('GET'), // wrong number of arguments
    Buffer.from('SET "unbalanced x\n'), // not sent: it would make the server drop the connection
    Buffer.from('*0\r\n'), // ignored by the server, no reply
    resp('INCR', 'n'),
    resp('SET', 'empty', ''),
    Buffer.from('INCR a') // the last line without a line end
  ]
  const input = Buffer.concat(parts)
  const unbalanced = parts.findIndex(p => p.toString().startsWith('SET "unbalanced'))
  const badLine = Buffer.concat(parts.slice(0, unbalanced)).toString('latin1').split('\n').length
  const r = await cli(t, ['--pipe', at(node)], input)
  t.equal(r.stdout.toString(), summary(3, 8))
  t.equal(r.code, 1, 'an error: exit 1')
  t.equal(r.stderr, [
    `keystone-cli: input line ${badLine}: unbalanced quotes, not sent`,
    "ERR unknown command 'NOPE', with args beginning with: 'x' ",
    "ERR wrong number of arguments for 'get' command",
    ''
  ].join('\n'), 'each error reply on stderr, as redis-cli prints them')
  const check = await connect(t, node)
  t.same(await check.call(['MGET', 'a', 'two words', 'bin', 'n', 'empty']), [Buffer.from('2'), Buffer.from('x y'), BINARY, Buffer.from('1'), Buffer.alloc(0)])
  t.same(await check.call(['DBSIZE']), 5)
})

t.test('--pipe: no errors, exit 0; the same output as redis-cli --pipe', async t => {
  const node = await startNode(t)
  const input = Buffer.concat([resp('SET', 'k', 'v'), Buffer.from('INCR c\nINCR c\n'), resp('DEL', 'k')])
  const r = await cli(t, ['--pipe', at(node)], input)
  t.equal(r.stdout.toString(), summary(0, 4))
  t.equal(r.stderr, '')
  t.equal(r.code, 0)
  t.same(await (await connect(t, node)).call(['GET', 'c']), Buffer.from('2'))

  const empty = await cli(t, ['--pipe', at(node)], '')
  t.equal(empty.stdout.toString(), summary(0, 0), 'empty input')
  t.equal(empty.code, 0)

  if (!haveRedisCli) {
    t.comment('redis-cli not installed (Debian: apt-get install redis-tools): the comparison is skipped')
    return
  }
  const bad = Buffer.concat([resp('SET', 'x', '1'), Buffer.from('NOPE\r\n'), resp('INCR', 'x'), Buffer.from('GET\n')])
  const [ours, theirs] = [await cli(t, ['--pipe', at(node)], bad), await run(t, 'redis-cli', ['-h', node.address().host, '-p', String(node.address().port), '--pipe'], bad)]
  t.equal(ours.stdout.toString(), theirs.stdout.toString(), 'stdout as redis-cli')
  t.equal(ours.stderr, theirs.stderr, 'stderr as redis-cli')
  t.equal(ours.code, theirs.code, 'exit code as redis-cli')
})

t.test('--pipe: 200,000 SETs, every key there', async t => {
  const node = await startNode(t)
  const n = 200_000
  const parts: string[] = []
  for (let i = 0; i < n; i++) {
    const key = `key:${i}`
    const value = `value-${i}`
    // Every third one inline, the rest RESP: detected command by command.
    parts.push(i % 3 === 0 ? `SET ${key} ${value}\r\n` : `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`)
  }
  const r = await cli(t, ['--pipe', at(node)], parts.join(''))
  t.equal(r.stdout.toString(), summary(0, n))
  t.equal(r.code, 0)
  const check = await connect(t, node)
  t.equal(await check.call(['DBSIZE']), n)
  let wrong = 0
  for (let from = 0; from < n; from += 10_000) {
    const keys = Array.from({ length: 10_000 }, (_, i) => `key:${from + i}`)
    const values = await check.call(['MGET', ...keys]) as Buffer[]
    values.forEach((v, i) => { if (v?.toString() !== `value-${from + i}`) wrong++ })
  }
  t.equal(wrong, 0, 'every value as sent')
})

t.test('--pipe: input that cannot be framed stops there; what came before is answered', async t => {
  const node = await startNode(t)
  const badLength = await cli(t, ['--pipe', at(node)], Buffer.concat([resp('SET', 'a', '1'), Buffer.from('*2\r\n$3\r\nGET\r\n$x\r\n'), resp('SET', 'b', '2')]))
  t.equal(badLength.stdout.toString(), summary(1, 1))
  t.equal(badLength.stderr, "keystone-cli: input line 11: invalid bulk length; the rest of the input is not sent\n")
  t.equal(badLength.code, 1)

  const noCrlf = await cli(t, ['--pipe', at(node)], Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nab\r\nSET c 3\n'))
  t.equal(noCrlf.stderr, "keystone-cli: input line 5: missing CRLF after bulk data; the rest of the input is not sent\n")
  t.equal(noCrlf.stdout.toString(), summary(1, 0))

  const cut = await cli(t, ['--pipe', at(node)], Buffer.concat([resp('SET', 'c', '3'), resp('SET', 'd', '4').subarray(0, 20)]))
  t.equal(cut.stderr, 'keystone-cli: input line 8: the input ended inside a command, not sent\n')
  t.equal(cut.stdout.toString(), summary(1, 1))
  t.equal(cut.code, 1)

  const check = await connect(t, node)
  t.same(await check.call(['MGET', 'a', 'b', 'c', 'd']), [Buffer.from('1'), null, Buffer.from('3'), null])
})

t.test('--pipe: a connection the server closes is an error, with the count so far', async t => {
  const node = await startNode(t, { maxBulkLen: 10 })
  const r = await cli(t, ['--pipe', at(node)], Buffer.concat([resp('SET', 'a', '1'), resp('SET', 'b', 'more than ten bytes'), resp('SET', 'c', '3')]))
  t.equal(r.code, 1)
  t.match(r.stderr, /^ERR Protocol error: invalid bulk length\nError reading from the server: /)
  t.match(r.stdout.toString(), /errors: 2, replies: 2\n$/)
})

t.test('--pipe with -a, and a wrong password', async t => {
  const node = await startNode(t, { requirepass: 'pw' })
  const ok = await cli(t, ['-a', 'pw', '--pipe', at(node)], 'SET k v\n')
  t.equal(ok.stdout.toString(), summary(0, 1))
  t.equal(ok.code, 0)
  const wrong = await cli(t, ['-a', 'nope', '--pipe', at(node)], 'SET k v\n')
  t.equal(wrong.stdout.toString(), '(error) WRONGPASS invalid username-password pair or user is disabled.\n')
  t.equal(wrong.code, 1)
  const args = await cli(t, ['--pipe', at(node), 'SET', 'k', 'v'])
  t.equal(args.code, 2, 'commands come from stdin only')
})

t.test('--pipe: a server that stops reading stops keystone-cli reading its input', async t => {
  // A server that accepts and never reads: the socket fills, then keystone-cli must
  // pause stdin rather than buffer it. Its stdin is a pipe here, fed until it stalls.
  const server = net.createServer(socket => { socket.pause() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const port = (server.address() as net.AddressInfo).port
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'keystone-cli'), '--pipe', `127.0.0.1:${port}`], { stdio: ['pipe', 'ignore', 'ignore'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  child.stdin.on('error', () => {})
  const chunk = Buffer.from(resp('SET', 'key', 'x'.repeat(1000)).toString('latin1').repeat(1000), 'latin1') // ~1 MB
  const limit = 512 * 1024 * 1024
  let written = 0
  let stalled = false
  while (written < limit) {
    written += chunk.length
    if (child.stdin.write(chunk)) continue
    const drained = await Promise.race([
      new Promise<boolean>(resolve => child.stdin.once('drain', () => resolve(true))),
      holdFor(3000, 'negative check: keystone-cli has stopped reading, so its stdin does not drain').then(() => false)
    ])
    if (!drained) { stalled = true; break }
  }
  t.ok(stalled, `stdin stopped being read (after ${(written / 1e6).toFixed(0)} MB)`)
  t.ok(written < 128 * 1024 * 1024, 'what keystone-cli holds is bounded')
})

t.test('--raw: each kind of reply, as redis-cli --raw prints it', async t => {
  const node = await startNode(t)
  const seed = await connect(t, node)
  await seed.call(['MSET', 'bin', BINARY, 'quote', 'say "hi"', 'n', '41'])
  const cases: Array<[string[], Buffer | string, number]> = [
    [['SET', 'k', 'v'], 'OK\n', 0],
    [['GET', 'quote'], 'say "hi"\n', 0],
    [['GET', 'bin'], Buffer.concat([BINARY, Buffer.from('\n')]), 0],
    [['GET', 'missing'], '\n', 0],
    [['EXISTS', 'quote', 'n', 'missing'], '2\n', 0],
    [['MGET', 'quote', 'missing', 'n'], 'say "hi"\n\n41\n', 0],
    [['SCAN', '0', 'MATCH', 'quote', 'COUNT', '1000'], '0\nquote\n', 0],
    [['KEYS', 'nothing*'], '\n', 0],
    [['PING'], 'PONG\n', 0],
    [['GET'], "ERR wrong number of arguments for 'get' command\n\n", 1]
  ]
  const runs = await Promise.all(cases.map(async ([args]) => await cli(t, ['--raw', at(node), ...args])))
  cases.forEach(([args, out, code], i) => {
    t.same(runs[i]?.stdout, Buffer.from(out), args.join(' '))
    t.equal(runs[i]?.code, code, `${args.join(' ')}: exit ${code}`)
  })
  if (haveRedisCli) {
    for (const [args] of cases) {
      const theirs = await run(t, 'redis-cli', ['-h', node.address().host, '-p', String(node.address().port), '--raw', ...args])
      const ours = await cli(t, ['--raw', at(node), ...args])
      t.same(ours.stdout, theirs.stdout, `${args.join(' ')}: as redis-cli --raw`)
    }
  }
  const session = await cli(t, ['--raw', at(node)], 'GET quote\nEXISTS quote n\n')
  t.equal(session.stdout.toString(), 'say "hi"\n2\n', '--raw in a session too')
  const quoted = await cli(t, ['--no-raw', at(node), 'GET', 'quote'])
  t.equal(quoted.stdout.toString(), '"say \\"hi\\""\n', '--no-raw: quoted, the default even when stdout is not a terminal')
})
