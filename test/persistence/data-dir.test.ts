import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { clientOf, kill9, startOn, waitCompactions } from '../helpers/durable.js'
import { runBin, spawnServer, tempDir } from '../helpers/server.js'

// FORMAT.md §Data directory: one node per directory (a lock), the node id kept
// there, owner-only permissions, a default directory per port.

t.test('a second node on the same data directory refuses to start, with a clear error', async t => {
  const dir = tempDir(t)
  const first = await startOn(t, dir)
  const second = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', dir])
  t.equal(second.code, 1, 'exit code 1')
  t.match(second.stderr, `data directory ${dir} is in use by another keystone-server (pid ${String(first.process.pid)}`, 'names the directory and the holder')
  const client = await clientOf(t, first)
  t.equal(await client.call(['SET', 'k', 'v']), 'OK', 'the first node is unharmed')
})

t.test('the lock of a node killed with -9 is stale: a restart takes it over', async t => {
  const dir = tempDir(t)
  const first = await startOn(t, dir)
  await (await clientOf(t, first)).call(['SET', 'k', 'v'])
  await kill9(first)
  t.ok(existsSync(path.join(dir, 'LOCK')), 'kill -9 left the lock behind')
  const again = await startOn(t, dir)
  t.same(String(await (await clientOf(t, again)).call(['GET', 'k'])), 'v', 'the restarted node has the data')
})

t.test('a lock naming a process that no longer runs, or holding garbage, is stale', async t => {
  for (const content of ['999999999 1\n', 'garbage', '']) {
    const dir = tempDir(t)
    writeFileSync(path.join(dir, 'LOCK'), content)
    const node = await startOn(t, dir)
    t.match(readFileSync(path.join(dir, 'LOCK'), 'latin1'), `${String(node.process.pid)} `, `lock ${JSON.stringify(content)} taken over`)
    await kill9(node)
  }
})

t.test('SIGTERM removes the lock', async t => {
  const dir = tempDir(t)
  const node = await startOn(t, dir)
  node.process.kill('SIGTERM')
  t.equal((await node.exited).code, 0, 'exit code 0')
  t.notOk(existsSync(path.join(dir, 'LOCK')), 'no lock left')
})

t.test('data files are readable by the owner only, and so is the directory', async t => {
  const parent = tempDir(t)
  const dir = path.join(parent, 'data')
  const node = await startOn(t, dir)
  const client = await clientOf(t, node)
  await client.call(['SET', 'k', 'v'])
  t.equal(await client.call(['BGREWRITEAOF']), 'Background append only file rewriting started')
  await waitCompactions(client, 1) // so that every kind of file is there
  t.equal(statSync(dir).mode & 0o777, 0o700, 'directory 0700')
  const files = readdirSync(dir)
  t.ok(files.some(f => f.startsWith('snapshot-')) && files.some(f => f.startsWith('log-')) && files.includes('node-id') && files.includes('LOCK'), `files: ${files.join(' ')}`)
  for (const f of files) t.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} 0600`)
})

t.test('an existing directory open to others is closed to them', async t => {
  const dir = tempDir(t)
  const { chmodSync } = await import('node:fs')
  chmodSync(dir, 0o755)
  await startOn(t, dir)
  t.equal(statSync(dir).mode & 0o777, 0o700)
})

t.test('a restarted node keeps its node id', async t => {
  const dir = tempDir(t)
  const first = await startOn(t, dir)
  const id = /node (\S+) listening on/.exec(first.stderr)?.[1]
  t.ok(id !== undefined, 'the listening line names the node id')
  await kill9(first)
  const second = await startOn(t, dir)
  t.equal(/node (\S+) listening on/.exec(second.stderr)?.[1], id, 'same id after a restart')
  t.equal(readFileSync(path.join(dir, 'node-id'), 'latin1').trim(), id, 'kept in node-id')
})

t.test('without --data-dir a node keeps its data in keystone-data/<port> under the working directory, and says so', async t => {
  const cwd = tempDir(t)
  const node = await spawnServer(t, ['--port', '0'], {}, cwd)
  const dir = path.join(cwd, 'keystone-data', String(node.port))
  t.match(node.stderr, `listening on ${node.host}:${node.port}, advertised as ${node.host}:${node.port}, data in ${dir} (fsync everysec)`)
  t.ok(existsSync(path.join(dir, 'node-id')), 'the directory is there')
})

t.test("--no-persist and --data-dir '' keep nothing on disk", async t => {
  for (const args of [['--no-persist'], ['--data-dir', '']]) {
    const cwd = tempDir(t)
    const node = await spawnServer(t, ['--port', '0', ...args], {}, cwd)
    t.match(node.stderr, 'data in memory only', `${args.join(' ')}: the listening line says so`)
    const client = await clientOf(t, node)
    t.equal(await client.call(['SET', 'k', 'v']), 'OK')
    t.same(readdirSync(cwd), [], `${args.join(' ')}: nothing written`)
    t.match(String(await client.call(['INFO', 'persistence'])), 'aof_enabled:0')
  }
})

t.test('bad values of the durability options are refused at start-up', async t => {
  const bad = await runBin(t, 'keystone-server', ['--port', '0', '--fsync', 'sometimes'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, '--fsync must be one of always, everysec, no')
  const file = path.join(tempDir(t), 'file')
  writeFileSync(file, 'not a directory')
  const notDir = await runBin(t, 'keystone-server', ['--port', '0', '--data-dir', file])
  t.equal(notDir.code, 1)
  t.match(notDir.stderr, `cannot use data directory ${file}`)
})
