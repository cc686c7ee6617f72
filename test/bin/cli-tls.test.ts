import t from 'tap'
import type { KeystoneNode } from '../../lib/index.js'
import { runBin, startNode, tempDir, toolSkip, type Teardown } from '../helpers/server.js'
import { lazyTlsFixture, NO_OPENSSL, tlsOptions } from '../helpers/tls.js'

// bin/keystone-cli --tls, the real binary, against a TLS node in this process
// (README.md §keystone-cli; PROTOCOL.md §TLS).

const fixture = lazyTlsFixture(t)
const skip = toolSkip(t, NO_OPENSSL)

async function cli (t: Teardown, args: string[], input?: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runBin(t, 'keystone-cli', args, { input, env: { HOME: tempDir(t) } })
}

const at = (node: KeystoneNode): string => `${node.address().host}:${node.address().port}`

t.test('--tls --cacert: one command, a prompt fed from stdin, --pipe', { skip }, async t => {
  const f = fixture()
  const node = await startNode(t, tlsOptions(f))
  const tls = ['--tls', '--cacert', f.ca]
  t.same(await cli(t, [...tls, at(node), 'SET', 'k', 'v']), { code: 0, signal: null, stdout: 'OK\n', stderr: '' })
  t.same(await cli(t, [...tls, at(node), 'GET', 'k']), { code: 0, signal: null, stdout: '"v"\n', stderr: '' })
  const prompt = await cli(t, [...tls, at(node)], 'INCR n\nGET k\n')
  t.equal(prompt.stdout, '(integer) 1\n"v"\n')
  const pipe = await cli(t, [...tls, '--pipe', at(node)], 'SET a 1\nSET b 2\n')
  t.equal(pipe.code, 0)
  t.match(pipe.stdout, /errors: 0, replies: 2/)
})

t.test('the node\'s certificate must verify: another CA fails (exit 2), --insecure skips the check', { skip }, async t => {
  const f = fixture()
  const node = await startNode(t, tlsOptions(f))
  const wrong = await cli(t, ['--tls', '--cacert', f.otherCa, at(node), 'PING'])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, new RegExp(`^Could not connect to Keystone at ${at(node)}: TLS: the certificate of ${at(node)} is not trusted: [A-Z_]+\\n$`))
  t.equal((await cli(t, ['--tls', '--insecure', at(node), 'PING'])).stdout, 'PONG\n')
  const plaintext = await cli(t, [at(node), 'PING'])
  t.equal(plaintext.code, 2, 'without --tls: cannot talk to a TLS port')
  t.equal(plaintext.stdout, '')
})

t.test('--cert and --key for a node with --tls-auth-clients yes', { skip }, async t => {
  const f = fixture()
  const node = await startNode(t, tlsOptions(f, { tlsAuthClients: 'yes' }))
  const refused = await cli(t, ['--tls', '--cacert', f.ca, at(node), 'PING'])
  t.equal(refused.stdout, '(error) ERR TLS: connection refused: no client certificate (tls-auth-clients yes)\n')
  t.equal(refused.code, 1)
  t.same(await cli(t, ['--tls', '--cacert', f.ca, '--cert', f.client.cert, '--key', f.client.key, at(node), 'PING']), { code: 0, signal: null, stdout: 'PONG\n', stderr: '' })
})

t.test('TLS flags that cannot work: exit 2 with the reason', { skip }, async t => {
  const f = fixture()
  const node = await startNode(t, tlsOptions(f))
  t.same(await cli(t, ['--tls', '--cacert', '/nonexistent/ca.pem', at(node), 'PING']), { code: 2, signal: null, stdout: '', stderr: "keystone-cli: ENOENT: no such file or directory, open '/nonexistent/ca.pem'\n" })
  t.same(await cli(t, ['--tls', '--cert', f.client.cert, at(node), 'PING']), { code: 2, signal: null, stdout: '', stderr: 'keystone-cli: --cert and --key go together\n' })
  t.same(await cli(t, ['--cacert', f.ca, at(node), 'PING']), { code: 2, signal: null, stdout: '', stderr: 'keystone-cli: --cacert, --cert, --key, --sni and --insecure go with --tls\n' })
  t.match((await cli(t, ['--help'])).stdout, /--tls .*\n(.|\n)*--cacert FILE/)
})
