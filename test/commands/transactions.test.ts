import t from 'tap'
import { KeystoneNode } from '../../lib/index.js'
import { silentLogger } from '../../lib/log.js'
import { command } from '../../lib/protocol/reply.js'
import { Server } from '../../lib/server/server.js'
import { holdFor, rawConnect, startNode, waitFor, type RawSocket, type Teardown } from '../helpers/server.js'

// PROTOCOL.md §Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, byte for
// byte as redis-server 7.0.15 answers the same input (each expected reply here
// was taken from it).

const QUEUED = '+QUEUED\r\n'
const OK = '+OK\r\n'
const NIL_ARRAY = '*-1\r\n'

/** The part of a tap test `exchange` needs. */
interface Checks { equal: (found: unknown, wanted: unknown, message: string) => boolean }

/** Sends `input` and checks that exactly `expected` comes back (after what came before). */
async function exchange (t: Checks, raw: RawSocket, input: string, expected: string, what: string): Promise<void> {
  const before = raw.received.length
  raw.send(input)
  await raw.until(r => r.length >= before + expected.length)
  t.equal(raw.text.slice(before), expected, what)
}

t.test('error paths', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'EXEC\r\nDISCARD\r\n', '-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n', 'EXEC and DISCARD without MULTI')
  await exchange(t, raw, 'MULTI\r\nMULTI\r\nWATCH a\r\nUNWATCH\r\nFOO\r\nGET\r\nSET a 1\r\nEXEC\r\nEXEC\r\n',
    OK + '-ERR MULTI calls can not be nested\r\n' + '-ERR WATCH inside MULTI is not allowed\r\n' + QUEUED +
    "-ERR unknown command 'FOO', with args beginning with: \r\n" + "-ERR wrong number of arguments for 'get' command\r\n" + QUEUED +
    '-EXECABORT Transaction discarded because of previous errors.\r\n' + '-ERR EXEC without MULTI\r\n',
    'queueing errors doom the transaction: EXECABORT, and the transaction is gone')
  t.equal(node.store.get('a'), undefined, 'nothing of the aborted transaction ran')
  await exchange(t, raw, 'MULTI\r\nWATCH a\r\nSET a 1\r\nEXEC\r\nMULTI\r\nMULTI\r\nSET a 2\r\nEXEC\r\n',
    OK + '-ERR WATCH inside MULTI is not allowed\r\n' + QUEUED + '*1\r\n' + OK + OK + '-ERR MULTI calls can not be nested\r\n' + QUEUED + '*1\r\n' + OK,
    'nested MULTI and WATCH inside MULTI are refused without dooming the transaction')
  await exchange(t, raw, 'MULTI\r\nEXEC\r\nWATCH\r\nUNWATCH x\r\nEXEC x\r\nMULTI x\r\nDISCARD x\r\n',
    OK + '*0\r\n' + "-ERR wrong number of arguments for 'watch' command\r\n" + "-ERR wrong number of arguments for 'unwatch' command\r\n" +
    "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n" +
    "-ERR wrong number of arguments for 'multi' command\r\n" + "-ERR wrong number of arguments for 'discard' command\r\n",
    'an empty EXEC; arity errors, EXEC\'s as an EXECABORT')
  await exchange(t, raw, 'MULTI\r\nSET b 1\r\nEXEC x\r\nEXEC\r\n',
    OK + QUEUED + "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n" + '-ERR EXEC without MULTI\r\n',
    'a refused EXEC discards the transaction')
  t.equal(node.store.get('b'), undefined)
})

t.test('runtime errors inside EXEC are in the array; the other commands run', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'SET a 1\r\nMULTI\r\nSET a 2 EX 0\r\nSET a 3 EX foo\r\nSET a 4 XX NX\r\nGET a\r\nWAIT 0 0\r\nEXEC\r\n',
    OK + OK + QUEUED.repeat(5) + '*5\r\n' + "-ERR invalid expire time in 'set' command\r\n" + '-ERR value is not an integer or out of range\r\n' +
    '-ERR syntax error\r\n' + '$1\r\n1\r\n' + ':0\r\n', 'errors in place, a reply that waits (WAIT) in place too')
  await exchange(t, raw, 'MULTI\r\nPING a b\r\nSET c 1\r\nEXEC\r\n',
    OK + QUEUED + QUEUED + '*2\r\n' + "-ERR wrong number of arguments for 'ping' command\r\n" + OK, 'an error from the handler does not doom the queue')
  t.equal(node.store.get('c')?.value?.toString(), '1')
})

t.test('DISCARD, and commands queued are not run', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'MULTI\r\nSET a 3\r\nGET a\r\nDISCARD\r\nGET a\r\nDISCARD\r\n',
    OK + QUEUED + QUEUED + OK + '$-1\r\n' + '-ERR DISCARD without MULTI\r\n', 'DISCARD drops the queue')
  t.equal(node.store.get('a'), undefined)
})

t.test('pipelined MULTI..EXEC in one write, RESP arrays, with commands after it', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  const input = [['MULTI'], ['SET', 'k', 'v'], ['MSET', 'x', '1', 'y', '2'], ['GET', 'k'], ['EXEC'], ['PING'], ['GET', 'y']].map(command).join('')
  await exchange(t, raw, input, OK + QUEUED + QUEUED + QUEUED + '*3\r\n+OK\r\n+OK\r\n$1\r\nv\r\n' + '+PONG\r\n' + '$1\r\n2\r\n', 'replies in order')
})

t.test('QUIT inside MULTI runs at once', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  raw.send('MULTI\r\nSET a 1\r\nQUIT\r\nGET a\r\n')
  await raw.waitClosed()
  t.equal(raw.text, OK + QUEUED + OK)
  t.equal(node.store.get('a'), undefined)
})

t.test('WATCH: a change by another client aborts EXEC with a nil array', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  const other = await rawConnect(t, node)
  await exchange(t, raw, 'SET k 1\r\nWATCH k\r\nMULTI\r\nSET k 2\r\n', OK + OK + OK + QUEUED, 'watched and queued')
  await exchange(t, other, 'SET k other\r\n', OK, 'another client writes the key')
  await exchange(t, raw, 'EXEC\r\nGET k\r\n', NIL_ARRAY + '$5\r\nother\r\n', 'EXEC aborted; nothing of it ran')
  await exchange(t, raw, 'MULTI\r\nSET k 3\r\nEXEC\r\n', OK + QUEUED + '*1\r\n' + OK, 'EXEC cleared the watch')
})

t.test('WATCH: what counts as a change (as Redis 7.0 counts it)', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  const tx = 'MULTI\r\nPING\r\nEXEC\r\n'
  const ran = OK + QUEUED + '*1\r\n+PONG\r\n'
  const aborted = OK + QUEUED + NIL_ARRAY
  await exchange(t, raw, 'SET k 1\r\nWATCH k\r\nSET k 1\r\n' + tx, OK + OK + OK + aborted, 'own write, same value: aborted')
  await exchange(t, raw, 'WATCH k\r\nEXPIRE k 100\r\n' + tx, OK + ':1\r\n' + aborted, 'EXPIRE: aborted')
  await exchange(t, raw, 'WATCH k\r\nFLUSHALL\r\n' + tx, OK + OK + aborted, 'FLUSHALL with the key there: aborted')
  await exchange(t, raw, 'WATCH k\r\nFLUSHALL\r\n' + tx, OK + OK + ran, 'FLUSHALL with the key missing: runs')
  await exchange(t, raw, 'WATCH k\r\nDEL k\r\nEXPIRE k 10\r\n' + tx, OK + ':0\r\n:0\r\n' + ran, 'no-op DEL and EXPIRE on a missing key: runs')
  await exchange(t, raw, 'SET k 1\r\nWATCH k\r\nSET k 2\r\nWATCH other\r\n' + tx, OK + OK + OK + OK + aborted, 'a dirty watch stays dirty')
  await exchange(t, raw, 'WATCH k\r\nSET k 2\r\nMULTI\r\nEXEC\r\n' + tx, OK + OK + OK + NIL_ARRAY + ran, 'an aborted EXEC clears the watch')
  await exchange(t, raw, 'WATCH k\r\nSET k 2\r\nMULTI\r\nDISCARD\r\n' + tx, OK + OK + OK + OK + ran, 'DISCARD clears it')
  await exchange(t, raw, 'WATCH k\r\nSET k 2\r\nUNWATCH\r\n' + tx, OK + OK + OK + ran, 'UNWATCH clears it')
  await exchange(t, raw, 'WATCH k\r\nMULTI\r\nUNWATCH\r\nPING\r\nEXEC\r\n', OK + OK + QUEUED + QUEUED + '*2\r\n+OK\r\n+PONG\r\n', 'UNWATCH inside MULTI is queued')
  await exchange(t, raw, 'WATCH nothing\r\nSET nothing 1\r\n' + tx, OK + OK + aborted, 'a missing key created: aborted')
  // Sets (PROTOCOL.md §Sets): an SADD that adds no member writes an add, which Redis does not count, nor do we.
  await exchange(t, raw, 'SADD s1 a\r\nSADD s2 a\r\nWATCH s1 s2\r\nSADD s1 a\r\nSMOVE s1 s2 a\r\n', ':1\r\n:1\r\n' + OK + ':0\r\n:1\r\n', 'SADD of a member there; SMOVE onto a set holding it')
  await exchange(t, raw, tx, aborted, 'the SMOVE removed a from s1: aborted')
  await exchange(t, raw, 'WATCH s2\r\nSADD s2 a\r\nSMOVE nokey s2 a\r\n' + tx, OK + ':0\r\n:0\r\n' + ran, 'only adds of members already there: runs')
  await exchange(t, raw, 'WATCH s2\r\nSADD s2 a b\r\n' + tx, OK + ':1\r\n' + aborted, 'an SADD that adds one: aborted')

  // Expiry: a key live when watched that expires before EXEC is a change
  await exchange(t, raw, 'SET e 1 PX 30\r\nWATCH e\r\n', OK + OK, 'watching a key about to expire')
  await holdFor(60, 'the key\'s 30 ms expiry passes (no command sees it)')
  await exchange(t, raw, tx, aborted, 'expired since WATCH: aborted')
  await exchange(t, raw, 'SET e 1 PX 30\r\nWATCH e\r\n', OK + OK, 'again, read after it expires')
  await holdFor(60, 'the key\'s 30 ms expiry passes')
  await exchange(t, raw, 'GET e\r\n' + tx, '$-1\r\n' + aborted, 'expired and reclaimed since WATCH: aborted')
  // A key already expired when watched: its removal is no change, a new value is.
  await exchange(t, raw, 'SET s 1 PX 1\r\n', OK, 'a key that expires at once')
  await holdFor(20, 'its expiry passes')
  await exchange(t, raw, 'WATCH s\r\nDEL s\r\nFLUSHALL\r\n' + tx, OK + ':0\r\n' + OK + ran, 'stale when watched, then removed: runs')
  await exchange(t, raw, 'SET s 1 PX 1\r\n', OK, 'again')
  await holdFor(20, 'its expiry passes')
  await exchange(t, raw, 'WATCH s\r\nSET s 2\r\n' + tx, OK + OK + aborted, 'stale when watched, then set: aborted')
})

t.test('write refusals (MISCONF, joining) at EXEC, as Redis does for MISCONF', async t => {
  const node = await startNode(t)
  let refusal: string | null = null
  node.writeRefusal = () => refusal
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'MULTI\r\nSET a 1\r\nGET a\r\n', OK + QUEUED + QUEUED, 'queued while writes are taken')
  refusal = 'MISCONF Errors writing to the log: no space left on device'
  await exchange(t, raw, 'EXEC\r\nEXEC\r\n',
    '-EXECABORT Transaction discarded because of: MISCONF Errors writing to the log: no space left on device\r\n-ERR EXEC without MULTI\r\n', 'EXEC with a write is refused, and discarded')
  await exchange(t, raw, 'MULTI\r\nGET a\r\nEXEC\r\n', OK + QUEUED + '*1\r\n$-1\r\n', 'a transaction without writes runs')
  await exchange(t, raw, 'MULTI\r\nSET a 1\r\nEXEC\r\n', OK + '-MISCONF Errors writing to the log: no space left on device\r\n' +
    '-EXECABORT Transaction discarded because of previous errors.\r\n', 'a write refused while queueing dooms the transaction')
  refusal = 'LOADING this node is joining its cluster; it takes writes once it is up'
  await exchange(t, raw, 'MULTI\r\nGET a\r\n', OK + QUEUED, 'queued')
  await exchange(t, raw, 'EXEC\r\n', '*1\r\n$-1\r\n', 'reads run while joining')
  refusal = null
  t.equal(node.store.get('a'), undefined, 'nothing was written')
})

t.test('NOAUTH: EXEC refused before AUTH is an EXECABORT', async t => {
  const node = await startNode(t, { requirepass: 'pw' })
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'EXEC\r\nMULTI\r\n', '-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n', 'as Redis')
})

/** A node whose write barrier the test holds shut, then opens. */
async function gatedNode (t: Teardown): Promise<{ node: KeystoneNode, raw: RawSocket, open: () => void }> {
  let open: () => void = () => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  let shut = true
  gate.then(() => { shut = false }, () => {})
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '' }, { log: silentLogger })
  const server = new Server(node, node.table, () => (shut ? gate : null))
  t.teardown(() => server.close(100))
  t.teardown(() => node.close())
  const address = await server.listen()
  return { node, raw: await rawConnect(t, address), open }
}

t.test('EXEC that wrote waits for the write barrier; replies keep their order', async t => {
  const { node, raw, open } = await gatedNode(t)
  raw.send('MULTI\r\nGET a\r\nEXEC\r\n')
  await raw.until(r => r.length >= (OK + QUEUED + '*1\r\n$-1\r\n').length)
  t.equal(raw.text, OK + QUEUED + '*1\r\n$-1\r\n', 'a read-only EXEC does not wait')
  const before = raw.received.length
  raw.send('MULTI\r\nSET a 1\r\nEXEC\r\nPING\r\n')
  await waitFor(() => node.stats.commandsProcessed >= 7, 5000, 'the commands to run')
  await raw.until(r => r.length >= before + (OK + QUEUED).length)
  await holdFor(50, 'negative check: EXEC\'s reply, had it been sent, would have arrived')
  t.equal(raw.text.slice(before), OK + QUEUED, 'EXEC and what follows wait for the barrier')
  t.equal(node.store.get('a')?.value?.toString(), '1', 'the write is made')
  open()
  await raw.until(r => r.length >= before + (OK + QUEUED + '*1\r\n+OK\r\n+PONG\r\n').length)
  t.equal(raw.text.slice(before), OK + QUEUED + '*1\r\n+OK\r\n+PONG\r\n')
})

t.test('a closed connection lets go of its watches', async t => {
  const node = await startNode(t)
  const raw = await rawConnect(t, node)
  await exchange(t, raw, 'WATCH a b c\r\nMULTI\r\n', OK + OK, 'watching')
  raw.close()
  await waitFor(() => [...node.sessions()].length === 0, 5000, 'the session to go')
  const other = await rawConnect(t, node)
  await exchange(t, other, 'SET a 1\r\n', OK, 'writes go on')
})
