// Cluster test helpers: several in-process nodes on ephemeral ports, joined
// into one cluster and torn down by the test.

import type { KeystoneNode, NodeOptions } from '../../lib/index.js'
import { startNode, waitFor, type Teardown } from './server.js'

/** Whether `node` sees every node of `all` (itself aside) as up, and is up itself. */
export function seesAllUp (node: KeystoneNode, all: readonly KeystoneNode[]): boolean {
  const cluster = node.cluster
  if (cluster.selfState !== 'up') return false
  for (const other of all) {
    if (other === node) continue
    const member = cluster.members.get(other.cluster.advertise)
    if (member === undefined || cluster.state(member) !== 'up') return false
  }
  return true
}

/** Waits until every node of `nodes` sees all of them up. */
export async function waitConverged (nodes: readonly KeystoneNode[], timeoutMs = 5000): Promise<void> {
  await waitFor(() => nodes.every(n => seesAllUp(n, nodes)), timeoutMs, `${nodes.length} nodes to see each other up`)
}

/** Starts `count` nodes, each joining the first, and waits until MEMBERS shows all up everywhere. */
export async function startCluster (t: Teardown, count: number, options: Partial<NodeOptions> = {}): Promise<KeystoneNode[]> {
  const first = await startNode(t, options)
  const nodes = [first]
  for (let i = 1; i < count; i++) nodes.push(await startNode(t, { ...options, join: first.cluster.advertise }))
  await waitConverged(nodes)
  return nodes
}
