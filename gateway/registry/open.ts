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
 * its pool given), otherwise the embedded SQLite file. Both hash secrets with the server key in
 * the data directory (server.key), which every node of a cluster must share. In a cluster the first
 * node with a used registry.db copies it in, once (postgres/seed.ts), after the key was checked:
 * the copied hashes are only good with the key they were made with.
 */
export async function openGatewayRegistry(opts: GatewayRegistryOptions): Promise<DeviceRegistry> {
  const cluster = opts.cluster
  const keyFile = opts.keyFile ?? join(opts.dataDir, 'server.key')
  if (!cluster) return openRegistry(opts.dataDir, keyFile)
  mkdirSync(opts.dataDir, { recursive: true })
  const hasher = SecretHasher.fromKeyFile(keyFile)
  assertRegistryKey(opts.dataDir, hasher)
  const registry = await PostgresRegistry.open(cluster.pool, hasher, opts.logger)
  try {
    await seedRegistryOnce(cluster.pool, { dataDir: opts.dataDir, nodeId: cluster.nodeId, logger: opts.logger })
  } catch (err) {
    await registry.close()
    throw err
  }
  return registry
}
