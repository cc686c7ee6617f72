// Every error text a client can receive (PROTOCOL.md §Errors). A test checks
// that each template here appears in PROTOCOL.md. `%s` marks a substitution.

export const ERRORS = {
  unknownCommand: "ERR unknown command '%s', with args beginning with: %s",
  wrongArity: "ERR wrong number of arguments for '%s' command",
  syntax: 'ERR syntax error',
  notInteger: 'ERR value is not an integer or out of range',
  overflow: 'ERR increment or decrement would overflow',
  decrementOverflow: 'ERR decrement would overflow',
  notFloat: 'ERR value is not a valid float',
  nanOrInfinity: 'ERR increment would produce NaN or Infinity',
  invalidExpire: "ERR invalid expire time in '%s' command",
  expireOptions: 'ERR NX and XX, GT or LT options at the same time are not compatible',
  unsupportedOption: 'ERR Unsupported option %s',
  gtLtTogether: 'ERR GT and LT options at the same time are not compatible',
  invalidCursor: 'ERR invalid cursor',
  offsetRange: 'ERR offset is out of range',
  stringTooLong: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
  noSuchKey: 'ERR no such key',
  sameObject: 'ERR source and destination objects are the same',
  noAccessFrequency: 'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
  noAccessTime: 'ERR OBJECT IDLETIME is not supported: Keystone does not track when keys were last accessed',
  configSetUnknown: "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
  configSetFailed: "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
  unknownSubcommand: "ERR unknown subcommand '%s'. Try %s HELP.",
  subcommandSyntax: "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.",
  slowlogCount: 'ERR count should be greater than or equal to -1',
  dbIndex: 'ERR DB index is out of range',
  selectInvalid: 'ERR invalid DB index',
  noAuth: 'NOAUTH Authentication required.',
  wrongPass: 'WRONGPASS invalid username-password pair or user is disabled.',
  authNotConfigured: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  protoVersion: 'ERR Protocol version is not an integer or out of range',
  noProto: 'NOPROTO unsupported protocol version',
  maxClients: 'ERR max number of clients reached',
  protocol: 'ERR Protocol error: %s',
  invalidEntryField: 'ERR invalid %s in entry',
  badAddress: 'ERR invalid address, expected HOST:PORT',
  joinSelf: 'ERR a node cannot join itself',
  peersOnly: "ERR '%s' is for peer links: send GOSSIP first",
  badNodeId: 'ERR invalid node id',
  removed: 'REMOVED node %s was removed from the cluster (FORGET); it can join again only as a new member, started with an empty data directory',
  left: 'LEFT node %s was removed from the cluster (FORGET) and no longer takes part in it',
  forgetSelf: 'ERR a node cannot FORGET itself; run FORGET at another member',
  noSuchMember: 'ERR no such member: %s',
  memberIdUnknown: 'ERR the node id of %s is not known here (no link to it was ever up); FORGET it by node id',
  tooManyMembers: 'ERR too many members in GOSSIP (at most %s)',
  negativeTimeout: 'ERR timeout is negative',
  invalidBucket: 'ERR invalid bucket',
  invalidMask: 'ERR invalid leaf mask',
  tooManyBuckets: 'ERR too many buckets (at most %s)',
  internal: 'ERR internal error, see the server log',
  misconf: 'MISCONF Errors writing to the log: %s',
  joining: 'LOADING this node is joining its cluster; it takes writes once it is up',
  joiningPeer: 'LOADING this node is joining its cluster; it takes peers once its JOIN is answered',
  noPersistence: 'ERR this node keeps no data on disk (memory only)',
  compacting: 'ERR Background append only file rewriting already in progress',
  clientName: 'ERR Client names cannot contain spaces, newlines or special characters.',
  execWithoutMulti: 'ERR EXEC without MULTI',
  discardWithoutMulti: 'ERR DISCARD without MULTI',
  nestedMulti: 'ERR MULTI calls can not be nested',
  watchInMulti: 'ERR WATCH inside MULTI is not allowed',
  execAbort: 'EXECABORT Transaction discarded because of previous errors.',
  execAbortBecause: 'EXECABORT Transaction discarded because of: %s'
} as const

export type ErrorName = keyof typeof ERRORS

/** The error text with its `%s` filled in order. */
export function errorText (name: ErrorName, ...values: string[]): string {
  let i = 0
  return ERRORS[name].replace(/%s/g, () => values[i++] ?? '')
}
