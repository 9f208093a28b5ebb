import type pg from 'pg'
import { LeaseManager } from '../../gateway/cluster/leases.ts'
import { Peers } from '../../gateway/cluster/peers.ts'
import type { Logger } from '../../gateway/log/logger.ts'

/**
 * One node's peer record and lease manager on `pool` (docs/operations.md "PostgreSQL and leases"):
 * each renewal is also the node's heartbeat, a peer counts as live when heard within ttl − renew,
 * and the manager balances over the live peers. Neither is started.
 */
export function nodeLeases(
  pool: pg.Pool,
  nodeId: string,
  logger: Logger,
  timing: { ttlMs: number; renewMs: number },
): { peers: Peers; leases: LeaseManager } {
  const peers = new Peers({ pool, nodeId, logger, version: 'test', liveWindowMs: timing.ttlMs - timing.renewMs })
  const leases = new LeaseManager({
    pool,
    nodeId,
    logger,
    ttlMs: timing.ttlMs,
    renewMs: timing.renewMs,
    heartbeat: () => peers.heartbeat(),
    livePeerCount: async () => (await peers.livePeers()).length,
  })
  return { peers, leases }
}
