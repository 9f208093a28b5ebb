import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { StartupError } from '../net/listen.ts'
import { migratePg } from '../pg/migrate.ts'
import { openPgPool } from '../pg/pool.ts'
import { ClusterHealth, type ComponentCheck } from './health.ts'
import { DEFAULT_LEASE_TTL_MS, LeaseManager } from './leases.ts'
import { CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE } from './migrations.ts'
import { Peers } from './peers.ts'
import { PACKAGE_ROOT } from '../util/package-root.ts'

export { fenceCheck, LeaseManager, leaseKind, type LeaseEvents, type LeaseLostReason } from './leases.ts'
export { Peers, type PeerRow } from './peers.ts'

export interface ClusterOptions {
  /** postgres.url; it may hold a password, so it is never logged. */
  url: string
  /** server.nodeId; unset: the host name. */
  nodeId?: string
  logger: Logger
  metrics: Metrics
  /** The gateway's version, recorded with the node's heartbeat (default: package.json's). */
  version?: string
  /** Where this node's HTTP API is reached (host:port), recorded with the heartbeat. */
  address?: string
  /** postgres.leaseTtlMs. */
  leaseTtlMs?: number
}

export interface Cluster {
  readonly nodeId: string
  readonly pool: pg.Pool
  readonly leases: LeaseManager
  readonly peers: Peers
  /** The `postgres` component of /readyz. */
  readiness(): Promise<Record<string, ComponentCheck>>
  /** Releases this node's leases and leaves the peer list at once (a clean shutdown), then closes the pool. */
  close(): Promise<void>
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
  return pkg.version
}

/** host:port/db of a PostgreSQL URL: what may be logged or shown (never the user or password). */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`
  } catch {
    return '(unparsable postgres.url)'
  }
}

/**
 * Cluster mode's shared core (docs/operations.md "Several nodes"): the PostgreSQL pool, the
 * cluster schema, this node's heartbeat and its leases. Called by app.ts only when postgres.url
 * is set.
 */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const nodeId = opts.nodeId ?? hostname()
  const pool = openPgPool(opts.url, { logger: opts.logger, applicationName: `iocgw ${nodeId}` })
  try {
    await migratePg(pool, CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE)
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw new StartupError(`PostgreSQL (${describePgUrl(opts.url)}): ${(err as Error).message}`)
  }
  const ttlMs = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS
  const renewMs = Math.floor(ttlMs / 3)
  const peers = new Peers({
    pool,
    nodeId,
    logger: opts.logger,
    version: opts.version ?? packageVersion(),
    ...(opts.address ? { address: opts.address } : {}),
    // See PeersOptions.liveWindowMs: a node that stops renewing stops counting by its leases' expiry.
    liveWindowMs: ttlMs - renewMs,
  })
  const leases = new LeaseManager({
    pool,
    nodeId,
    logger: opts.logger,
    ttlMs,
    renewMs,
    heartbeat: () => peers.heartbeat(),
    livePeerCount: async () => (await peers.livePeers()).length,
  })
  const health = new ClusterHealth({ pool, leases, peers, metrics: opts.metrics, probeMs: renewMs })
  await peers.heartbeat()
  leases.start()
  health.start()
  opts.logger.info({ nodeId, postgres: describePgUrl(opts.url), leaseTtlMs: ttlMs }, 'cluster: node joined')
  return {
    nodeId,
    pool,
    leases,
    peers,
    readiness: () => health.readiness(),
    close: async () => {
      health.close()
      await leases.close()
      await peers.close()
      await pool.end()
    },
  }
}
