import t, { type Test } from 'tap'
import type { KeystoneNode, NodeOptions } from '../../lib/index.js'
import { waitConverged, startCluster } from '../helpers/cluster.js'
import { NodeProxy } from '../helpers/fault.js'
import { caller, connect, runBin, startLoggedNode, toolSkip, waitFor } from '../helpers/server.js'
import { connectTls, lazyTlsFixture, NO_OPENSSL, tlsOptions } from '../helpers/tls.js'

// PROTOCOL.md §TLS between nodes: peer links and JOIN speak TLS when the node
// does, each side verifying the other's certificate against the CA.

const fixture = lazyTlsFixture(t)
const skip = toolSkip(t, NO_OPENSSL)

t.test('three nodes over TLS, joined with --join: writes replicate', { skip }, async t => {
  const f = fixture()
  const nodes = await startCluster(t, 3, tlsOptions(f))
  const [a, , c] = nodes as [KeystoneNode, KeystoneNode, KeystoneNode]
  t.equal(await caller(await connectTls(t, a.address(), f.ca))('SET', 'k', 'v'), 'OK')
  t.equal(await caller(await connectTls(t, c.address(), f.ca))('GET', 'k'), 'v', 'read-your-writes at another node (G1)')
  for (const node of nodes) {
    for (const member of node.cluster.members.values()) t.equal(member.link.status, 'ready', `${node.cluster.advertise} -> ${member.addr}`)
  }
})

/**
 * Two nodes, a's link to b through a proxy that records every byte (b
 * advertises the proxy; a joins through it); a write at a reaches b. Returns
 * what the proxy saw.
 */
async function wiretap (t: Test, options: Partial<NodeOptions>, key: string, value: string): Promise<Buffer> {
  const f = fixture()
  const proxy = new NodeProxy('127.0.0.1')
  t.teardown(() => proxy.close())
  await proxy.listen()
  proxy.record = true
  const b = (await startLoggedNode(t, { ...options, advertise: proxy.addr })).node
  proxy.target = b.address()
  const a = (await startLoggedNode(t, { ...options, join: proxy.addr })).node
  await waitConverged([a, b])
  const at = async (node: KeystoneNode): Promise<(...args: string[]) => Promise<unknown>> => caller(options.tlsCertFile === undefined ? await connect(t, node) : await connectTls(t, node.address(), f.ca))
  t.equal(await (await at(a))('SET', key, value), 'OK')
  t.equal(await (await at(b))('GET', key), value, 'replicated through the proxy')
  return Buffer.concat(proxy.recorded)
}

t.test('a wiretap between two TLS nodes sees no key nor value', { skip }, async t => {
  const f = fixture()
  const key = 'wiretap-key-7f3a91'
  const value = 'wiretap-value-c41d08'
  const seen = await wiretap(t, tlsOptions(f), key, value)
  t.ok(seen.length > 1000, `the proxy carried the link (${seen.length} bytes)`)
  t.notOk(seen.includes(key), 'no key in plaintext')
  t.notOk(seen.includes(value), 'no value in plaintext')
  t.notOk(seen.includes('MREPL') || seen.includes('GOSSIP'), 'no command name either')
  // The same wiretap on plain TCP sees both: it does look where the bytes go.
  const plainSeen = await wiretap(t, {}, key, value)
  t.ok(plainSeen.includes(key) && plainSeen.includes(value), 'control: over plain TCP the wiretap reads them')
})

t.test('a node whose certificate is from another CA cannot join: a clear message, exit 1', { skip }, async t => {
  const f = fixture()
  const { node: a, lines } = await startLoggedNode(t, tlsOptions(f))
  const seed = `${a.address().host}:${a.address().port}`
  // It trusts only its own CA: it refuses a's certificate.
  const distrusting = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', '', '--tls-cert-file', f.other.cert, '--tls-key-file', f.other.key, '--tls-ca-cert-file', f.otherCa, '--join', seed])
  t.equal(distrusting.code, 1)
  t.match(distrusting.stderr, new RegExp(`keystone-server: cannot join ${seed}: TLS: the certificate of ${seed} is not trusted: [A-Z_]+`))
  // It trusts a's CA, but a does not trust its certificate: a refuses its JOIN, and logs why.
  const distrusted = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', '', '--tls-cert-file', f.other.cert, '--tls-key-file', f.other.key, '--tls-ca-cert-file', f.ca, '--join', seed])
  t.equal(distrusted.code, 1)
  t.match(distrusted.stderr, new RegExp(`keystone-server: cannot join ${seed}: ERR 'JOIN' is for peers whose TLS certificate verifies against tls-ca-cert-file: its certificate does not verify against tls-ca-cert-file \\([A-Z_]+\\)`))
  t.ok(lines.some(l => / warn refused JOIN from 127\.0\.0\.1:\d+: its certificate does not verify against tls-ca-cert-file/.test(l)), 'the seed logs the refusal')
  t.equal(a.cluster.members.size, 0, 'no member added')
})

t.test('a peer link to a node with a certificate from another CA: down, a clear log line, retried', { skip }, async t => {
  const f = fixture()
  const { node: a, lines } = await startLoggedNode(t, tlsOptions(f))
  const { node: d, lines: dLines } = await startLoggedNode(t, tlsOptions(f, {}, f.other, f.otherCa))
  const dAddr = `${d.address().host}:${d.address().port}`
  // A trusted peer tells a of d (GOSSIP with d in its member list): a dials d.
  const trusted = caller(await connectTls(t, a.address(), f.ca, f.node))
  t.ok(Array.isArray(await trusted('GOSSIP', '127.0.0.1:1', 'b'.repeat(40), 'up', dAddr)))
  const reason = new RegExp(`warn peer ${dAddr.replace(/\./g, '\\.')} is down: connect: TLS: the certificate of ${dAddr.replace(/\./g, '\\.')} is not trusted: [A-Z_]+`)
  await waitFor(() => lines.some(l => reason.test(l)), 5000, 'the log line naming the peer and the reason')
  t.pass('logged')
  const member = a.cluster.members.get(dAddr)
  t.not(member?.link.status, 'ready')
  t.equal(a.cluster.state(member as NonNullable<typeof member>), 'down')
  // d sees the attempts fail one after another: the link keeps redialling.
  await waitFor(() => dLines.filter(l => / debug TLS handshake with .* failed/.test(l)).length >= 3, 20000, 'three failed attempts at d')
  t.pass('redialled')
  t.equal(lines.filter(l => reason.test(l)).length, 1, 'logged once, not at every attempt')
})
