import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import { PostgresRegistry } from './postgres/index.ts'
import { assertRegistryKey, seedRegistryOnce } from './postgres/seed.ts'
import { SecretHasher } from './secrets.ts'
import { openRegistry } from './sqlite.ts'
import type { DeviceRegistry } from './types.ts'

export interface GatewayRegistryOptions {
  dataDir: string
  /** The server key's file (server.keyFile); unset: server.key in the data directory. */
  keyFile?: string | undefined
  /** Cluster mode: the shared PostgreSQL, and this node's id (server.nodeId), recorded if it seeds the registry. */
  cluster?: { pool: pg.Pool; nodeId: string } | undefined
  logger: Logger
}

/**
 * The registry of this gateway: in PostgreSQL when the node is part of a cluster (postgres.url,
 * its pool given), otherwise the embedded SQLite file. Both hash secrets with the server key
 * (server.keyFile, or server.key in the data directory), which every node of a cluster must share;
 * a node whose used registry.db was made with another key stops here, before its key is recorded.
 */
export async function openGatewayRegistry(opts: GatewayRegistryOptions): Promise<DeviceRegistry> {
  const cluster = opts.cluster
  const keyFile = opts.keyFile ?? join(opts.dataDir, 'server.key')
  if (!cluster) return openRegistry(opts.dataDir, keyFile)
  mkdirSync(opts.dataDir, { recursive: true })
  const hasher = SecretHasher.fromKeyFile(keyFile)
  assertRegistryKey(opts.dataDir, hasher)
  return PostgresRegistry.open(cluster.pool, hasher, opts.logger)
}

/**
 * Cluster mode: the first node with a used registry.db copies it in, once (postgres/seed.ts).
 * The gateway calls this last of its first-start copies: until devices are in PostgreSQL none can
 * connect to any node, so no node evaluates a reading or analyses a frame before this node's alert
 * state and detections are copied (those copies would find their tables in use, and skip).
 */
export async function seedGatewayRegistry(opts: Pick<GatewayRegistryOptions, 'dataDir' | 'cluster' | 'logger'>): Promise<void> {
  if (opts.cluster) await seedRegistryOnce(opts.cluster.pool, { dataDir: opts.dataDir, nodeId: opts.cluster.nodeId, logger: opts.logger })
}
