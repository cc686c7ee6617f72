import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import { KeystoneError } from '../errors.js'

// PROTOCOL.md §TLS: the files named by the tls-* options, loaded and checked,
// and what each side of a connection is told to verify. No sockets here: the
// server (server.ts) and the node (peer links, JOIN) take what this builds.

/** --tls-auth-clients: which clients must present a certificate (Redis's values). */
export type TlsAuthClients = 'yes' | 'no' | 'optional'
export const TLS_AUTH_CLIENTS: readonly TlsAuthClients[] = ['yes', 'no', 'optional']

/** The tls-* options (a subset of NodeOptions; '' is unset). */
export interface TlsSettings {
  tlsCertFile: string
  tlsKeyFile: string
  tlsCaCertFile: string
  tlsAuthClients: TlsAuthClients
}

/** The loaded files: what a server context and a dialling context are built from. */
export interface TlsMaterial {
  readonly cert: Buffer
  readonly key: Buffer
  /** The CA certificates peers' (and clients') certificates must chain to; null without --tls-ca-cert-file. */
  readonly ca: Buffer | null
  /** The node's own certificate: its subject and serial, for the log. */
  readonly subject: string
  readonly serial: string
}

/** Whether the options turn TLS on (the port then speaks nothing else). */
export function tlsEnabled (o: TlsSettings): boolean {
  return o.tlsCertFile !== ''
}

/** What no single tls-* value shows (a start-up TypeError, or CONFIG SET's refusal); null if fine. */
export function tlsCrossCheck (o: TlsSettings): string | null {
  if ((o.tlsCertFile === '') !== (o.tlsKeyFile === '')) return 'tls-cert-file and tls-key-file go together: give both or neither'
  if (o.tlsCertFile === '' && o.tlsCaCertFile !== '') return 'tls-ca-cert-file needs tls-cert-file and tls-key-file (TLS is off without them)'
  if (o.tlsAuthClients !== 'no' && o.tlsCaCertFile === '' && o.tlsCertFile !== '') return `tls-auth-clients ${o.tlsAuthClients} needs tls-ca-cert-file to verify clients' certificates against`
  return null
}

/** A tls-* file that cannot be used; `option` names the one at fault (CONFIG SET's reply names it). */
export class TlsFileError extends KeystoneError {
  constructor (readonly option: 'tls-cert-file' | 'tls-key-file' | 'tls-ca-cert-file', message: string) {
    super('KS_ERR_TLS', message)
  }
}

function read (option: TlsFileError['option'], file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new TlsFileError(option, `cannot read ${option} ${file}: ${(err as Error).message}`)
  }
}

/** OpenSSL's `[thread:]error:<hex>:<library>:<function>:<reason>[:<file>:<line>:]` (its message). */
const OPENSSL_MESSAGE = /(?:^|:)error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\r\n]*)/

/**
 * An error's text fit for one log or reply line: OpenSSL's reason alone
 * (`err.reason` where Node gives it, else parsed out of the message) without
 * its `error:0A00010B:SSL routines:...` prefix nor its `file.c:350:` and
 * newline suffix; other messages as they are, on one line.
 */
export function reason (err: unknown): string {
  const e = err instanceof Error ? err as Error & { reason?: unknown } : null
  const text = e === null ? String(err) : e.message
  const openssl = OPENSSL_MESSAGE.exec(text)
  const found = typeof e?.reason === 'string' && e.reason !== '' && openssl !== null ? e.reason : openssl?.[1] ?? text
  return found.replace(/[\r\n]+/g, ' ').trim()
}

/**
 * Reads and checks the files: the certificate and key parse and belong
 * together, the CA file holds a certificate. A KS_ERR_TLS KeystoneError naming
 * the file otherwise. Synchronous: at start-up and in CONFIG SET alike.
 */
export function loadTls (o: TlsSettings): TlsMaterial {
  const cert = read('tls-cert-file', o.tlsCertFile)
  const key = read('tls-key-file', o.tlsKeyFile)
  const ca = o.tlsCaCertFile === '' ? null : read('tls-ca-cert-file', o.tlsCaCertFile)
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new TlsFileError('tls-cert-file', `tls-cert-file ${o.tlsCertFile} holds no PEM certificate: ${reason(err)}`)
  }
  try {
    createPrivateKey(key)
  } catch (err) {
    throw new TlsFileError('tls-key-file', `tls-key-file ${o.tlsKeyFile} holds no PEM private key: ${reason(err)}`)
  }
  if (ca !== null) {
    try {
      new X509Certificate(ca) // parsing is the check
    } catch (err) {
      throw new TlsFileError('tls-ca-cert-file', `tls-ca-cert-file ${o.tlsCaCertFile} holds no PEM certificate: ${reason(err)}`)
    }
  }
  try {
    tls.createSecureContext({ cert, key, ca: ca ?? undefined })
  } catch (err) {
    throw new TlsFileError('tls-key-file', `tls-key-file ${o.tlsKeyFile} and tls-cert-file ${o.tlsCertFile} do not go together: ${reason(err)}`)
  }
  return { cert, key, ca, subject: x509.subject.replace(/\n/g, ', '), serial: x509.serialNumber }
}

/** How long a connection may take to finish its TLS handshake, ms (a silent plaintext client is dropped then). */
export const HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * The server's TLS options. A certificate is always asked for and never
 * required by OpenSSL itself: tls-auth-clients is applied per connection by
 * `clientRefusal`, so CONFIG SET can change it without a new server.
 */
export function serverTlsOptions (m: TlsMaterial): tls.TlsOptions {
  return { ...contextOptions(m), requestCert: true, rejectUnauthorized: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }
}

/** The files as tls.createSecureContext takes them (server.setSecureContext on a reload). */
export function contextOptions (m: TlsMaterial): tls.SecureContextOptions {
  return m.ca === null ? { cert: m.cert, key: m.key } : { cert: m.cert, key: m.key, ca: m.ca }
}

/**
 * How this node dials peers (peer links, JOIN): with its own certificate as
 * the client certificate, the peer's checked against the CA. Not its host
 * name: as Redis's own links, the CA is the trust (PROTOCOL.md §TLS). Without
 * a CA the link is encrypted but the peer is not verified.
 */
export function peerDialOptions (m: TlsMaterial): tls.ConnectionOptions {
  return {
    ...contextOptions(m),
    rejectUnauthorized: m.ca !== null,
    checkServerIdentity: () => undefined
  }
}

/** The part of a TLS socket the checks read. */
export interface PeerCertificateSource {
  readonly authorized: boolean
  readonly authorizationError?: Error | string
  /** Null (not {}) once the socket has lost its handle. */
  getPeerCertificate: () => tls.PeerCertificate | object | null
  /** The verified certificate, for its extended key usage; undefined when none was presented. */
  getPeerX509Certificate: () => X509Certificate | undefined
}

function presented (socket: PeerCertificateSource): boolean {
  // A socket whose handle is gone answers null: nothing presented, never a throw.
  const cert = socket.getPeerCertificate() ?? {}
  return Object.keys(cert).length > 0
}

function verifyError (socket: PeerCertificateSource): string {
  const e = socket.authorizationError
  return e === undefined ? 'not verified' : String(e instanceof Error ? e.message : e)
}

/** The serverAuth extended key usage (RFC 5280 id-kp-serverAuth). */
export const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1'
/** anyExtendedKeyUsage (RFC 5280): allows every purpose, serverAuth included. */
const ANY_EKU_OID = '2.5.29.37.0'

/**
 * tls-auth-clients applied to a connection just past its handshake: why it
 * is refused, or null. `yes`: a certificate that verifies against the CA;
 * `optional`: none, or one that verifies; `no`: anything.
 */
export function clientRefusal (socket: PeerCertificateSource, mode: TlsAuthClients, hasCa: boolean): string | null {
  if (mode === 'no' || !hasCa || socket.authorized) return null
  if (!presented(socket)) return mode === 'yes' ? 'no client certificate (tls-auth-clients yes)' : null
  return `its certificate does not verify against tls-ca-cert-file (${verifyError(socket)})`
}

/**
 * Whether a connection may speak as a peer (GOSSIP, JOIN): with a CA, only
 * with a certificate that verified against it and may serve as a server's
 * (PROTOCOL.md §TLS): every node's certificate is one, and a client
 * certificate from the same CA (extended key usage clientAuth only) must not
 * make its holder a peer. A certificate without the extension is unrestricted
 * (RFC 5280 §4.2.1.12), so allowed. Null when it may, else why not.
 */
export function peerRefusal (socket: PeerCertificateSource, hasCa: boolean): string | null {
  if (!hasCa) return null
  if (!socket.authorized) {
    if (!presented(socket)) return 'it presented no client certificate'
    return `its certificate does not verify against tls-ca-cert-file (${verifyError(socket)})`
  }
  let usage: string[] | undefined
  try {
    usage = socket.getPeerX509Certificate()?.keyUsage
  } catch {
    return 'its certificate cannot be read'
  }
  if (usage === undefined || usage.includes(SERVER_AUTH_OID) || usage.includes(ANY_EKU_OID)) return null
  return 'its certificate is not a node\'s (its extended key usage lacks serverAuth)'
}
