// TLS test material made at run time with openssl (nothing secret is
// committed): two unrelated CAs, node certificates from each, a second node
// certificate from the first CA (for reloads) and a client certificate (clientAuth
// only, as PROTOCOL.md §TLS says to issue them: it may not act as a peer). Kept
// in a temporary directory removed when the test ends.

import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import tls from 'node:tls'
import type { NodeOptions } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { tempDir, type Address, type Teardown } from './server.js'

/** Why TLS tests are skipped here (pass it through toolSkip: under CI it fails), or false when openssl is installed. */
export const NO_OPENSSL: string | false = spawnSync('openssl', ['version']).status === 0
  ? false
  : 'openssl is not installed (apt-get install openssl): the TLS tests need it to make their certificates'

/** A certificate and its key, as file paths. */
export interface CertFiles {
  cert: string
  key: string
  /** The certificate's serial, as X509Certificate.serialNumber shows it (upper-case hex). */
  serial: string
}

export interface TlsFixture {
  dir: string
  /** The CA the cluster trusts. */
  ca: string
  /** A node certificate from `ca` (SAN IP:127.0.0.1, DNS:localhost), for servers and peers. */
  node: CertFiles
  /** Another node certificate from `ca`, a different subject and serial (a renewal). */
  renewed: CertFiles
  /** A client certificate from `ca`: extended key usage clientAuth only, so no peer (PROTOCOL.md §TLS). */
  client: CertFiles
  /** An unrelated CA... */
  otherCa: string
  /** ...and a node certificate it issued. */
  other: CertFiles
}

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

function openssl (cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa (dir: string, name: string, cn: string): string {
  openssl(dir, ['req', '-x509', ...CURVE, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`])
  return path.join(dir, `${name}.crt`)
}

/** A node's certificate may serve and dial (serverAuth, clientAuth); a client's only dials (clientAuth). */
type Usage = 'node' | 'client'

function issue (dir: string, ca: string, name: string, cn: string, serial: number, usage: Usage = 'node'): CertFiles {
  const ext = path.join(dir, `${name}.ext`)
  const eku = usage === 'node' ? 'serverAuth,clientAuth' : 'clientAuth'
  writeFileSync(ext, `basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=${eku}\n`)
  openssl(dir, ['req', '-new', ...CURVE, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`])
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', String(serial), '-days', '2', '-extfile', ext, '-out', `${name}.crt`])
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), serial: serial.toString(16).toUpperCase().padStart(2, '0') }
}

/** Makes the CAs and certificates in a temporary directory (removed at teardown). Check NO_OPENSSL first. */
export function makeTlsFixture (t: Teardown): TlsFixture {
  const dir = tempDir(t, 'keystone-tls-')
  const ca = makeCa(dir, 'ca', 'Keystone Test CA')
  const otherCa = makeCa(dir, 'other-ca', 'Unrelated Test CA')
  return {
    dir,
    ca,
    node: issue(dir, 'ca', 'node', 'keystone-node', 0x1001),
    renewed: issue(dir, 'ca', 'renewed', 'keystone-node-renewed', 0x1002),
    client: issue(dir, 'ca', 'client', 'keystone-client', 0x1003, 'client'),
    otherCa,
    other: issue(dir, 'other-ca', 'other', 'other-node', 0x2001)
  }
}

/** The fixture, made on first use (a test skipped for NO_OPENSSL makes none), once per test file. */
export function lazyTlsFixture (t: Teardown): () => TlsFixture {
  let made: TlsFixture | null = null
  return () => {
    made ??= makeTlsFixture(t)
    return made
  }
}

/** Node options for TLS with `cert` (default the fixture's node certificate), trusting `ca`. */
export function tlsOptions (f: TlsFixture, extra: Partial<NodeOptions> = {}, cert: CertFiles = f.node, ca = f.ca): Partial<NodeOptions> {
  return { tlsCertFile: cert.cert, tlsKeyFile: cert.key, tlsCaCertFile: ca, ...extra }
}

/** A RESP client over TLS trusting `ca`, presenting `cert` if given; closed when the test ends. */
export async function connectTls (t: Teardown, at: Address, ca: string, cert?: CertFiles): Promise<RespClient> {
  const secure: tls.ConnectionOptions = { ca: readFileSync(ca) }
  if (cert !== undefined) {
    secure.cert = readFileSync(cert.cert)
    secure.key = readFileSync(cert.key)
  }
  const client = await RespClient.connect({ ...at, tls: secure })
  t.teardown(() => client.close())
  return client
}

/** The certificate a fresh TLS connection to `at` is served (not verified: any CA). */
export async function servedCertificate (at: Address): Promise<tls.PeerCertificate> {
  return await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: at.host, port: at.port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate()
      socket.destroy()
      resolve(cert)
    })
    socket.once('error', reject)
  })
}
