// Test helpers for talking to real servers through real sockets. Every
// resource is registered with `t.teardown` as soon as it exists, so a failing
// assertion never leaves a server, socket, child or directory behind.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KeystoneNode, type NodeOptions } from '../../lib/index.js'
import { RespClient } from '../../lib/client/resp-client.js'
import { createLogger, silentLogger } from '../../lib/log.js'
import { ReplyParser, type RespValue } from '../../lib/protocol/reply-parser.js'

/** The part of a tap test the helpers need. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

export interface Address { host: string, port: number }

/** The repository root (the compiled helper lives in dist/test/helpers/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..')

/** Polls `check` until it returns a value other than false/undefined, or throws after `timeoutMs`. */
export async function waitFor<T> (check: () => T | false | undefined | Promise<T | false | undefined>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== false && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** CONFIG SET's refusal as a client reads it (PROTOCOL.md §CONFIG), without the `-` and CRLF. */
export function configSetFailed (name: string, why: string): string {
  return `ERR CONFIG SET failed (possibly related to argument '${name}') - ${why}`
}

/** A node in this process on an ephemeral port, memory only, whose log lines (debug up) land in `lines`. */
export async function startLoggedNode (t: Teardown, options: Partial<NodeOptions>): Promise<{ node: KeystoneNode, lines: string[] }> {
  const lines: string[] = []
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', ...options }, { log: createLogger('debug', line => lines.push(line)) })
  t.teardown(() => node.close())
  await node.start()
  return { node, lines }
}

/**
 * A test's `skip` for a tool the machine lacks (openssl, promtool): the reason
 * given, or false when the tool is there. With CI set in the environment a
 * missing tool is a failure of `t`, not a silent skip: CI must run every test.
 */
export function toolSkip (t: { fail: (message: string) => unknown }, missing: string | false): string | false {
  if (missing !== false && (process.env.CI ?? '') !== '') t.fail(`${missing} (CI is set: a missing tool fails instead of skipping)`)
  return missing
}

/**
 * Lets `ms` of real time pass. Only for what polling cannot express: a negative
 * check (nothing happens in that time: no reply while a barrier is shut, the
 * server reads no further) and pacing a workload (writers at a rate, a fault
 * held for a while, a kill at a random moment). A test waiting for something to
 * happen polls for it with waitFor instead, and a negative check that can wait
 * for a later event proving the moment passed (a reply, a round) waits for that.
 * `why` is for the reader: which of the two this is, and what it waits out.
 */
export async function holdFor (ms: number, why: string): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** A node in this process on 127.0.0.1, an ephemeral port, memory only, no logs. */
export async function startNode (t: Teardown, options: Partial<NodeOptions> = {}): Promise<KeystoneNode> {
  const node = new KeystoneNode({ host: '127.0.0.1', port: 0, dataDir: '', ...options }, { log: silentLogger })
  t.teardown(() => node.close())
  await node.start()
  return node
}

/** A RESP client to a node (or an address), closed when the test ends. */
export async function connect (t: Teardown, to: KeystoneNode | Address): Promise<RespClient> {
  const address = to instanceof KeystoneNode ? to.address() : to
  const client = await RespClient.connect(address)
  t.teardown(() => client.close())
  return client
}

/**
 * A socket for exact bytes: send anything, look at exactly what came back,
 * see whether the server closed it. Errors (a reset) are recorded, not thrown.
 */
export class RawSocket {
  closed = false
  error: Error | null = null
  private chunks: Buffer[] = []
  private readonly parser = new ReplyParser()
  private readonly parsed: RespValue[] = []
  private parseError: Error | null = null
  private readonly waiters = new Set<() => void>()

  constructor (readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.parse(chunk)
      this.wake()
    })
    socket.on('error', err => { this.error = err })
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
  }

  /** Every byte received so far. */
  get received (): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)]
    return this.chunks[0] ?? Buffer.alloc(0)
  }

  /** What was received, one char per byte. */
  get text (): string {
    return this.received.toString('latin1')
  }

  /** Writes bytes (a string is taken as latin1, one char per byte). False once the socket is gone. */
  send (bytes: string | Buffer): boolean {
    if (this.socket.destroyed) return false
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
    return true
  }

  /** Resolves once `done(received)` holds; rejects (showing what came) on timeout, or on close without it. */
  until (done: (received: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let ok: boolean
        try {
          ok = done(this.received)
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)))
          return
        }
        if (ok) finish(null)
        else if (this.closed) finish(new Error(`closed; received ${JSON.stringify(this.text.slice(0, 300))}`))
      }
      const timer = setTimeout(() => finish(new Error(`timed out; received ${JSON.stringify(this.text.slice(0, 300))}`)), timeoutMs)
      const finish = (err: Error | null): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
        if (err === null) resolve(this.received)
        else reject(err)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Waits for at least `length` bytes of reply text and returns them. */
  async read (length: number, timeoutMs?: number): Promise<string> {
    await this.until(r => r.length >= length, timeoutMs)
    return this.text
  }

  /** The next `n` RESP replies not yet taken by an earlier call (waiting for them). */
  async replies (n: number, timeoutMs?: number): Promise<RespValue[]> {
    await this.until(() => {
      if (this.parseError !== null) throw this.parseError
      return this.parsed.length >= n
    }, timeoutMs)
    return this.parsed.splice(0, n)
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed (timeoutMs = 5000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error('connection still open')) }, timeoutMs)
      const check = (): void => {
        if (!this.closed) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve()
      }
      this.waiters.add(check)
      check()
    })
  }

  close (): void {
    this.socket.destroy()
  }

  private parse (chunk: Buffer): void {
    if (this.parseError !== null) return
    try {
      this.parser.feed(chunk)
      for (let v = this.parser.next(); v !== undefined; v = this.parser.next()) this.parsed.push(v)
    } catch (err) {
      this.parseError = err instanceof Error ? err : new Error(String(err))
    }
  }

  private wake (): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** A raw socket to a node (or an address), destroyed when the test ends. */
export async function rawConnect (t: Teardown, to: KeystoneNode | Address): Promise<RawSocket> {
  const { host, port } = to instanceof KeystoneNode ? to.address() : to
  const socket = net.connect({ host, port })
  t.teardown(() => socket.destroy())
  const raw = new RawSocket(socket)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return raw
}

/** A port that nothing listens on (bound then released). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** A temporary directory, removed when the test ends. */
export function tempDir (t: Teardown, prefix = 'keystone-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * The environment for a child: ours without KEYSTONE_ variables (a test sets
 * what it means to) and without tap's, so it runs as a user would run it; plus `env`.
 */
function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(KEYSTONE_|TAP_|_TAPJS_|NODE_OPTIONS$)/.test(k)) clean[k] = v
  }
  return { ...clean, ...env }
}

export interface Child {
  readonly process: ChildProcess
  stdout: string
  stderr: string
  /** Resolves with the exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export interface SpawnOptions {
  env?: Record<string, string>
  /** Working directory; default a fresh temporary one (where a default data dir would land). */
  cwd?: string
  /** Written to stdin, which is then closed. Default: stdin closed at once. */
  input?: string
}

/** Runs bin/<name> with node; killed (SIGKILL) when the test ends if still running. */
export function spawnBin (t: Teardown, name: string, args: string[], options: SpawnOptions = {}): Child {
  const cwd = options.cwd ?? tempDir(t)
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', name), ...args], {
    cwd,
    env: childEnv(options.env ?? {}),
    stdio: ['pipe', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const result: Child = {
    process: child,
    stdout: '',
    stderr: '',
    // 'close', not 'exit': by then all of stdout and stderr has been read
    exited: new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  }
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { result.stdout += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { result.stderr += s })
  child.stdin?.on('error', () => {}) // a child that exits early closes its stdin
  child.stdin?.end(options.input)
  return result
}

/** Runs bin/<name> to completion (within `timeoutMs`); its exit code and output. */
export async function runBin (t: Teardown, name: string, args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  const child = spawnBin(t, name, args, options)
  const timer = setTimeout(() => child.process.kill('SIGKILL'), options.timeoutMs ?? 10000)
  const { code, signal } = await child.exited
  clearTimeout(timer)
  return { code, signal, stdout: child.stdout, stderr: child.stderr }
}

const LISTENING = /listening on (\S+):(\d+)/

/** bin/keystone-server as a child process, once it has printed `listening on HOST:PORT`. */
export async function spawnServer (t: Teardown, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Child & Address> {
  const child = spawnBin(t, 'keystone-server', args, { env, cwd })
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'listening on' within 10 s: ${child.stderr}`)), 10000)
    const check = (): void => {
      const m = LISTENING.exec(child.stderr)
      if (m === null) return
      clearTimeout(timer)
      child.process.stderr?.off('data', check)
      resolve(m)
    }
    child.process.stderr?.on('data', check)
    child.exited.then(e => {
      clearTimeout(timer)
      reject(new Error(`keystone-server exited (${String(e.code ?? e.signal)}): ${child.stderr}`))
    }, reject)
  })
  return Object.assign(child, { host: match[1] as string, port: Number(match[2]) })
}

/** A reply with bulk strings as (latin1) strings, for t.same; errors stay RespError. */
export function plain (reply: RespValue): unknown {
  if (Buffer.isBuffer(reply)) return reply.toString('latin1')
  if (Array.isArray(reply)) return reply.map(plain)
  return reply
}

/** `call('SET', 'k', 'v')` on a client, the reply made plain. */
export function caller (client: RespClient): (...args: Array<string | Buffer>) => Promise<unknown> {
  return async (...args) => plain(await client.call(args))
}

/** One command on a connection of its own, closed after the reply (for nodes that come and go). */
export async function callOnce (at: Address, ...args: string[]): Promise<RespValue> {
  const client = await RespClient.connect({ ...at, connectTimeoutMs: 2000 })
  try {
    return await client.call(args)
  } finally {
    client.close()
  }
}

/** Whether every node lists exactly these nodes, every one `up` (MEMBERS at each). */
export async function allUpAt (nodes: readonly Address[]): Promise<boolean> {
  for (const n of nodes) {
    const lines = plain(await callOnce(n, 'MEMBERS')) as string[]
    if (lines.length !== nodes.length || !lines.every(l => l.split(' ')[1] === 'up')) return false
  }
  return true
}
