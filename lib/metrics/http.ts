import http from 'node:http'
import net from 'node:net'
import { KeystoneError } from '../errors.js'
import type { Logger } from '../log.js'

// The metrics endpoint (PROTOCOL.md §Metrics): GET /metrics on --host:--metrics-port,
// plain HTTP, separate from the RESP port so a scraper never speaks to it.

export const METRICS_PATH = '/metrics'

/** What the endpoint serves: the body and its content type, made at each request. */
export interface Exposition {
  contentType: string
  text: () => Promise<string>
}

/** `http://HOST:PORT/metrics`, brackets around an IPv6 host. */
export function metricsUrl (host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}${METRICS_PATH}`
}

export class MetricsServer {
  private readonly server: http.Server
  private closing: Promise<void> | null = null

  constructor (private readonly exposition: Exposition, private readonly log: Logger) {
    this.server = http.createServer((req, res) => this.respond(req, res))
  }

  /** Listens on host:port (0: ephemeral); a KeystoneError if it cannot, as the RESP port (PROTOCOL.md §Ports). */
  listen (host: string, port: number): Promise<{ host: string, port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE'
          ? new KeystoneError('KS_ERR_PORT_BUSY', `metrics port ${port} on ${host} is already in use`)
          : new KeystoneError('KS_ERR_LISTEN', `cannot listen for metrics on ${host}:${port}: ${err.message}`))
      }
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        // Later errors (a failed accept) are logged, never thrown.
        this.server.on('error', err => this.log.error(`metrics: ${err.message}`))
        resolve(this.address())
      })
    })
  }

  address (): { host: string, port: number } {
    const a = this.server.address()
    if (a === null || typeof a === 'string') return { host: '', port: 0 }
    return { host: a.address, port: a.port }
  }

  /** Stops listening and drops every connection (a scraper's keep-alive one included). Idempotent. */
  close (): Promise<void> {
    this.closing ??= new Promise(resolve => {
      if (!this.server.listening) {
        resolve()
        return
      }
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
    return this.closing
  }

  /** GET (or HEAD) /metrics: 200 and the exposition; another path: 404; another method: 405. */
  private respond (req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]
    if (path !== METRICS_PATH) {
      this.plain(res, 404, `not found: metrics are at ${METRICS_PATH}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      this.plain(res, 405, `method ${req.method ?? '?'} not allowed: use GET\n`)
      return
    }
    // One .catch after the .then: a throw while answering is logged too, never an unhandled rejection.
    this.exposition.text().then(body => {
      res.writeHead(200, { 'Content-Type': this.exposition.contentType, 'Content-Length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }).catch((err: unknown) => {
      this.log.error(`metrics: cannot serve ${METRICS_PATH}: ${err instanceof Error ? err.message : String(err)}`)
      if (res.headersSent) res.destroy()
      else this.plain(res, 500, 'cannot collect the metrics; see the node\'s log\n')
    })
  }

  private plain (res: http.ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }
}
