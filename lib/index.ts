// The public API: start a node in-process (tests, embedding) or from bin/.
export { KeystoneNode, type NodeDependencies } from './node.js'
export { DEFAULTS, FLAGS, resolveOptions, parseAddress, type NodeOptions } from './options.js'
export { ConfigFileError, readConfigFile } from './config-file.js'
export { KeystoneError, ProtocolError } from './errors.js'
export { RequestParser } from './protocol/request-parser.js'
export { ReplyParser, RespError, type RespValue } from './protocol/reply-parser.js'
export { Store } from './store/store.js'
