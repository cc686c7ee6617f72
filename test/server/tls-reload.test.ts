import { copyFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { waitConverged } from '../helpers/cluster.js'
import { caller, configSetFailed, startLoggedNode, toolSkip, waitFor } from '../helpers/server.js'
import { connectTls, lazyTlsFixture, NO_OPENSSL, servedCertificate, tlsOptions } from '../helpers/tls.js'

// PROTOCOL.md §TLS, reloading: CONFIG SET of a tls-* file reads the files
// again without a restart; files that cannot be used are refused and the
// certificate in use stays.

const fixture = lazyTlsFixture(t)
const skip = toolSkip(t, NO_OPENSSL)

const failed = configSetFailed

/** A certificate and key pair copied to `name`.crt/.key in the fixture's directory (a pair an operator renews in place). */
function pairAt (dir: string, name: string, from: { cert: string, key: string }): { cert: string, key: string } {
  const to = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) }
  copyPair(from, to)
  return to
}

function copyPair (from: { cert: string, key: string }, to: { cert: string, key: string }): void {
  copyFileSync(from.cert, to.cert)
  copyFileSync(from.key, to.key)
}

t.test('CONFIG SET tls-cert-file and tls-key-file: new connections get the new certificate, open ones go on', { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f))
  t.equal((await servedCertificate(node.address())).serialNumber, f.node.serial, 'the first certificate')
  const admin = caller(await connectTls(t, node.address(), f.ca))
  t.equal(await admin('CONFIG', 'SET', 'tls-cert-file', f.renewed.cert, 'tls-key-file', f.renewed.key), 'OK')
  const served = await servedCertificate(node.address())
  t.equal(served.serialNumber, f.renewed.serial, 'a new connection is served the new certificate')
  t.equal(served.subject.CN, 'keystone-node-renewed')
  t.equal(await admin('PING'), 'PONG', 'the connection that asked is still served')
  t.same(await admin('CONFIG', 'GET', 'tls-cert-file'), ['tls-cert-file', f.renewed.cert])
  t.ok(lines.some(l => / info TLS certificate CN=keystone-node-renewed \(serial 1002\)/.test(l)), 'the log names the certificate now in use')
})

t.test('CONFIG SET of the same file name reads it again (a certificate renewed in place)', { skip }, async t => {
  const f = fixture()
  const pair = pairAt(f.dir, 'in-place', f.node)
  const { cert, key } = pair
  const { node } = await startLoggedNode(t, tlsOptions(f, {}, { cert, key, serial: f.node.serial }))
  copyPair(f.renewed, pair)
  t.equal((await servedCertificate(node.address())).serialNumber, f.node.serial, 'nothing changes until told')
  const admin = caller(await connectTls(t, node.address(), f.ca))
  t.equal(await admin('CONFIG', 'SET', 'tls-cert-file', cert), 'OK')
  t.equal((await servedCertificate(node.address())).serialNumber, f.renewed.serial)
})

t.test('a reload is applied from the files as checked: read once, even if they change on the disk in between', { skip }, async t => {
  const f = fixture()
  const { cert, key } = pairAt(f.dir, 'checked', f.renewed)
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const next = { ...node.options, tlsCertFile: cert, tlsKeyFile: key }
  t.equal(node.checkTls(next), null, 'valid at check time')
  writeFileSync(cert, 'not a certificate any more\n')
  Object.assign(node.options, next) // what CONFIG SET does between its check and apply steps
  node.applyTls()
  t.equal((await servedCertificate(node.address())).serialNumber, f.renewed.serial, 'the certificate checked is served')
  const admin = caller(await connectTls(t, node.address(), f.ca))
  t.same(await admin('CONFIG', 'GET', 'tls-cert-file'), ['tls-cert-file', cert], 'and CONFIG GET names the file it came from')
  t.match(String(await admin('CONFIG', 'SET', 'tls-cert-file', f.node.cert, 'tls-key-file', f.node.key, 'tls-ca-cert-file', '/nonexistent/ca.pem')), /^ERR CONFIG SET failed/)
  t.same(await admin('CONFIG', 'GET', 'tls-*'), ['tls-cert-file', cert, 'tls-key-file', key, 'tls-ca-cert-file', f.ca, 'tls-auth-clients', 'no'], 'a failed reload leaves the old names')
  t.equal((await servedCertificate(node.address())).serialNumber, f.renewed.serial, 'and the old certificate')
})

t.test('files that cannot be used: an error reply, and the old certificate stays', { skip }, async t => {
  const f = fixture()
  const { node } = await startLoggedNode(t, tlsOptions(f))
  const admin = caller(await connectTls(t, node.address(), f.ca))
  const garbage = path.join(f.dir, 'garbage.pem')
  writeFileSync(garbage, 'not a certificate\n')
  t.equal(String(await admin('CONFIG', 'SET', 'tls-cert-file', '/nonexistent/cert.pem')),
    failed('tls-cert-file', "cannot read tls-cert-file /nonexistent/cert.pem: ENOENT: no such file or directory, open '/nonexistent/cert.pem'"))
  t.match(String(await admin('CONFIG', 'SET', 'tls-cert-file', garbage)), failed('tls-cert-file', `tls-cert-file ${garbage} holds no PEM certificate: `))
  t.match(String(await admin('CONFIG', 'SET', 'tls-cert-file', f.renewed.cert)), failed('tls-cert-file', `tls-key-file ${f.node.key} and tls-cert-file ${f.renewed.cert} do not go together: `), 'a certificate without its key')
  t.match(String(await admin('CONFIG', 'SET', 'tls-key-file', f.renewed.key, 'tls-ca-cert-file', garbage)), /^ERR CONFIG SET failed \(possibly related to argument 'tls-ca-cert-file'\) - tls-ca-cert-file .* holds no PEM certificate/, 'the option whose file failed is named')
  t.match(String(await admin('CONFIG', 'SET', 'tls-key-file', f.renewed.key, 'tls-cert-file', '/nonexistent/cert.pem')), /^ERR CONFIG SET failed \(possibly related to argument 'tls-cert-file'\) - cannot read tls-cert-file/, 'not the first sent')
  t.equal(String(await admin('CONFIG', 'SET', 'tls-cert-file', '')), failed('tls-cert-file', 'tls-cert-file and tls-key-file go together: give both or neither'))
  t.equal(String(await admin('CONFIG', 'SET', 'tls-cert-file', '', 'tls-key-file', '', 'tls-ca-cert-file', '')), failed('tls-cert-file', 'TLS cannot be turned off while the node runs; restart it without tls-cert-file and tls-key-file'))
  t.equal(String(await admin('CONFIG', 'SET', 'tls-ca-cert-file', '', 'tls-auth-clients', 'yes')), failed('tls-ca-cert-file', 'tls-auth-clients yes needs tls-ca-cert-file to verify clients\' certificates against'))
  t.same(await admin('CONFIG', 'GET', 'tls-*'), ['tls-cert-file', f.node.cert, 'tls-key-file', f.node.key, 'tls-ca-cert-file', f.ca, 'tls-auth-clients', 'no'], 'no option changed')
  t.equal((await servedCertificate(node.address())).serialNumber, f.node.serial, 'the old certificate is still served')
  t.equal(await caller(await connectTls(t, node.address(), f.ca))('PING'), 'PONG', 'and new clients are served')
})

t.test("CONFIG SET tls-ca-cert-file '': peer verification off is a warning", { skip }, async t => {
  const f = fixture()
  const { node, lines } = await startLoggedNode(t, tlsOptions(f))
  const admin = caller(await connectTls(t, node.address(), f.ca))
  t.equal(await admin('CONFIG', 'SET', 'tls-ca-cert-file', ''), 'OK')
  t.ok(lines.some(l => / warn CONFIG SET tls-ca-cert-file '': peer certificates are no longer verified/.test(l)), 'logged at warn')
  const warned = lines.filter(l => / warn CONFIG SET tls-ca-cert-file/.test(l)).length
  t.equal(await admin('CONFIG', 'SET', 'tls-cert-file', f.node.cert), 'OK')
  t.equal(lines.filter(l => / warn CONFIG SET tls-ca-cert-file/.test(l)).length, warned, 'once, when it is switched off')
})

t.test('CONFIG SET tls-ca-cert-file: peer links dialled from then on verify against the new CA', { skip }, async t => {
  const f = fixture()
  const { node: a } = await startLoggedNode(t, tlsOptions(f))
  const { node: b, lines } = await startLoggedNode(t, tlsOptions(f, { join: a.cluster.advertise }))
  await waitConverged([a, b])
  const atB = caller(await connectTls(t, b.address(), f.ca))
  t.equal(await atB('CONFIG', 'SET', 'tls-ca-cert-file', f.otherCa), 'OK')
  // b's link to a, dialled again, no longer trusts a's certificate.
  const link = b.cluster.members.get(a.cluster.advertise)?.link
  link?.drop('test: redial')
  const untrusted = `peer ${a.cluster.advertise} is down: connect: TLS: the certificate of ${a.cluster.advertise} is not trusted`
  await waitFor(() => lines.some(l => l.includes(untrusted)), 5000, 'the redial to fail verification')
  t.not(link?.status, 'ready', 'the redialled link is down')
  t.equal(await atB('CONFIG', 'SET', 'tls-ca-cert-file', f.ca), 'OK')
  await waitConverged([a, b])
  t.pass('and comes back once b trusts a\'s CA again')
})
