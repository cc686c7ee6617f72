import { existsSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { connect, freePort, runBin, startNode, tempDir, type Teardown } from '../helpers/server.js'
import type { KeystoneNode } from '../../lib/index.js'

// bin/keystone-cli, the real binary, against a node in this process.
// CONTRACT §Programs: redis-cli's output; exit 0 on a reply, 1 on an error
// reply, 2 when it cannot connect or the arguments are wrong.

// Each test has its own node and processes, so they run side by side.
t.jobs = 4

/** Runs keystone-cli with HOME in a temporary directory (the interactive mode keeps a history there). */
async function cli (t: Teardown, args: string[], input?: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const home = tempDir(t)
  return await runBin(t, 'keystone-cli', args, { input, env: { HOME: home } })
}

const at = (node: KeystoneNode): string => `${node.address().host}:${node.address().port}`

t.test('one command: the reply as redis-cli prints it, and the exit code', async t => {
  const node = await startNode(t)
  t.equal(await (await connect(t, node)).call(['SET', 'k', 'v']), 'OK')
  const [ok, value, failed] = await Promise.all([
    cli(t, [at(node), 'SET', 'k', 'v']),
    cli(t, [at(node), 'EXISTS', 'k', 'k']),
    cli(t, [at(node), 'NOPE', 'x'])
  ])
  t.equal(ok.stdout, 'OK\n')
  t.equal(ok.code, 0)
  t.equal(value.stdout, '(integer) 2\n')
  t.equal(value.code, 0)
  t.equal(failed.stdout, "(error) ERR unknown command 'NOPE', with args beginning with: 'x' \n")
  t.equal(failed.code, 1, 'an error reply: exit 1')
})

t.test('every kind of reply, printed as redis-cli prints it', async t => {
  const node = await startNode(t)
  const seed = await connect(t, node)
  await seed.call(['MSET', 'a', '1', 'b', '2', 'quote', 'say "hi"\n'])
  for (let i = 1; i <= 10; i++) await seed.call(['SET', `n${i}`, String(i)])
  const cases: Array<[string, string]> = [
    ['SET k v', 'OK'],
    ['GET a', '"1"'],
    ['GET quote', '"say \\"hi\\"\\n"'],
    ['GET missing', '(nil)'],
    ['EXISTS a b missing', '(integer) 2'],
    ['MGET a missing b', '1) "1"\n2) (nil)\n3) "2"'],
    ['KEYS nothing*', '(empty array)'],
    ['PING', 'PONG'],
    ['SCAN 0 MATCH a COUNT 5000', '1) "0"\n2) 1) "a"'],
    ['MGET n1 n2 n3 n4 n5 n6 n7 n8 n9 n10', [' 1) "1"', ' 2) "2"', ' 3) "3"', ' 4) "4"', ' 5) "5"', ' 6) "6"', ' 7) "7"', ' 8) "8"', ' 9) "9"', '10) "10"'].join('\n')],
    ['GET', "(error) ERR wrong number of arguments for 'get' command"],
    ['SET k v EX 0', "(error) ERR invalid expire time in 'set' command"]
  ]
  // One session (stdin not a terminal) prints every reply with the same formatter as one-shot mode.
  const run = await cli(t, [at(node)], cases.map(c => c[0]).join('\n') + '\n')
  t.equal(run.code, 0)
  t.equal(run.stdout, cases.map(c => c[1] + '\n').join(''))
  const lines = run.stdout.split('\n')
  let line = 0
  for (const [command, out] of cases) {
    const n = out.split('\n').length
    t.equal(lines.slice(line, line + n).join('\n'), out, command)
    line += n
  }
})

t.test('arguments are sent as they are: spaces, quotes, UTF-8', async t => {
  const node = await startNode(t)
  const check = await connect(t, node)
  t.equal((await cli(t, [at(node), 'SET', 'two words', 'a "quoted" value'])).code, 0)
  t.same(await check.call(['GET', 'two words']), Buffer.from('a "quoted" value'))
  t.equal((await cli(t, [at(node), 'SET', 'utf8', 'héllo 🔑'])).code, 0)
  t.same(await check.call(['GET', 'utf8']), Buffer.from('héllo 🔑', 'utf8'), 'sent as UTF-8 bytes, as redis-cli does')
  const shown = await cli(t, [at(node), 'GET', 'utf8'])
  t.equal(shown.stdout, '"h\\xc3\\xa9llo \\xf0\\x9f\\x94\\x91"\n', 'non-ASCII bytes are shown escaped, as redis-cli does')
})

t.test('-a PASSWORD', async t => {
  const node = await startNode(t, { requirepass: 'sésame ouvre-toi' })
  const [right, wrong, none] = await Promise.all([
    cli(t, ['-a', 'sésame ouvre-toi', at(node), 'SET', 'k', 'v']),
    cli(t, ['-a', 'wrong', at(node), 'SET', 'k', 'v']),
    cli(t, [at(node), 'GET', 'k'])
  ])
  t.equal(right.stdout, 'OK\n')
  t.equal(right.code, 0)
  t.equal(wrong.stdout, '(error) WRONGPASS invalid username-password pair or user is disabled.\n')
  t.equal(wrong.code, 1, 'a wrong password: exit 1')
  t.equal(none.stdout, '(error) NOAUTH Authentication required.\n')
  t.equal(none.code, 1)
})

t.test('exit 2: cannot connect, bad address, unknown option', async t => {
  const port = await freePort()
  const [refused, badAddress, badPort, unknown] = await Promise.all([
    cli(t, [`127.0.0.1:${port}`, 'PING']),
    cli(t, ['nowhere:x', 'PING']),
    cli(t, ['127.0.0.1:99999', 'PING']),
    cli(t, ['--bogus', '127.0.0.1:1', 'PING'])
  ])
  t.equal(refused.code, 2)
  t.match(refused.stderr, `Could not connect to Keystone at 127.0.0.1:${port}`)
  t.equal(refused.stdout, '')
  t.equal(badAddress.code, 2)
  t.match(badAddress.stderr, /address must be HOST:PORT, got 'nowhere:x'/)
  t.equal(badPort.code, 2)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown option '--bogus'/)
})

t.test('--help', async t => {
  const { code, stdout } = await cli(t, ['--help'])
  t.equal(code, 0)
  t.match(stdout, /^Usage: keystone-cli \[-a PASSWORD\]/)
})

t.test('interactive mode reads commands from stdin', async t => {
  const node = await startNode(t)
  const home = tempDir(t)
  const input = [
    'SET greeting "hello world"',
    'GET greeting',
    '',
    'MGET greeting missing',
    'NOPE',
    'SET "unbalanced',
    'DEL greeting',
    'PING'
  ].join('\n') + '\n'
  const run = await runBin(t, 'keystone-cli', [at(node)], { input, env: { HOME: home } })
  t.equal(run.code, 0, 'end of input: exit 0')
  t.equal(run.stdout, [
    'OK',
    '"hello world"',
    '1) "hello world"',
    '2) (nil)',
    "(error) ERR unknown command 'NOPE', with args beginning with: ",
    'Invalid argument(s)',
    '(integer) 1',
    'PONG'
  ].join('\n') + '\n', 'one reply per command, no prompts')
  t.notOk(existsSync(path.join(home, '.keystone_cli_history')), 'piped commands are not kept in the history (only typed ones are, as with redis-cli)')

  const quit = await runBin(t, 'keystone-cli', [at(node)], { input: 'SET k 1\nquit\nSET k 2\n', env: { HOME: home } })
  t.equal(quit.stdout, 'OK\n', 'quit ends the session')
  t.equal(quit.code, 0)
  const check = await connect(t, node)
  t.same(await check.call(['GET', 'k']), Buffer.from('1'))

  const locked = await startNode(t, { requirepass: 'pw' })
  const authed = await runBin(t, 'keystone-cli', ['-a', 'pw', at(locked)], { input: 'SET k v\nGET k\n', env: { HOME: home } })
  t.equal(authed.stdout, 'OK\n"v"\n', '-a works in interactive mode')
})
