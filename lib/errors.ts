/**
 * One error base class with stable codes. Errors that reach a client as a RESP
 * error reply are texts in lib/commands/errors.ts; these are the errors the
 * program itself raises (bad options, a bad config file, a busy port, protocol framing, an unusable
 * data directory, unusable TLS files).
 */
export type ErrorCode =
  | 'KS_ERR_PROTOCOL'
  | 'KS_ERR_PORT_BUSY'
  | 'KS_ERR_LISTEN'
  | 'KS_ERR_CLUSTER'
  | 'KS_ERR_DATA'
  | 'KS_ERR_CONFIG'
  | 'KS_ERR_TLS'

export class KeystoneError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string) {
    super(message)
    this.name = 'KeystoneError'
    this.code = code
  }
}

/** A framing error: the connection answers `-ERR Protocol error: <message>` and closes. */
export class ProtocolError extends KeystoneError {
  constructor (message: string) {
    super('KS_ERR_PROTOCOL', message)
    this.name = 'ProtocolError'
  }
}
