import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { clientRefusal, peerRefusal, type PeerCertificateSource } from '../../lib/server/tls.js'
import { toolSkip } from '../helpers/server.js'
import { lazyTlsFixture, NO_OPENSSL } from '../helpers/tls.js'

// PROTOCOL.md §TLS: clientRefusal and peerRefusal on sockets made up for them.

const fixture = lazyTlsFixture(t)

function source (authorized: boolean, x509: X509Certificate | undefined, cert: object | null = x509 === undefined ? {} : { subject: {} }): PeerCertificateSource {
  return { authorized, getPeerCertificate: () => cert, getPeerX509Certificate: () => x509 }
}

t.test('a socket that lost its handle (getPeerCertificate() null) is no throw: nothing presented', async t => {
  const gone = source(false, undefined, null)
  t.equal(clientRefusal(gone, 'yes', true), 'no client certificate (tls-auth-clients yes)')
  t.equal(clientRefusal(gone, 'optional', true), null)
  t.equal(peerRefusal(gone, true), 'it presented no client certificate')
})

t.test('peers: serverAuth allowed, clientAuth only refused, no extended key usage at all allowed (RFC 5280: unrestricted)', { skip: toolSkip(t, NO_OPENSSL) }, async t => {
  const f = fixture()
  const node = new X509Certificate(readFileSync(f.node.cert))
  const client = new X509Certificate(readFileSync(f.client.cert))
  const ca = new X509Certificate(readFileSync(f.ca)) // made by `req -x509` with no extendedKeyUsage
  t.equal(ca.keyUsage, undefined, 'the fixture has a certificate without the extension')
  t.equal(peerRefusal(source(true, node), true), null, 'a node certificate')
  t.equal(peerRefusal(source(true, client), true), "its certificate is not a node's (its extended key usage lacks serverAuth)")
  t.equal(peerRefusal(source(true, ca), true), null, 'no extended key usage: unrestricted')
  t.equal(peerRefusal(source(true, client), false), null, 'without a CA nothing is verified, as documented')
  t.match(peerRefusal({ ...source(false, client), authorizationError: 'CERT_HAS_EXPIRED' }, true), /does not verify against tls-ca-cert-file \(CERT_HAS_EXPIRED\)/)
})
