import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import { PostgresRegistry } from './postgres/index.ts'
import { SecretHasher } from './secrets.ts'
import { openRegistry } from './sqlite.ts'
import type { DeviceRegistry } from './types.ts'

/**
 * The registry of this gateway: in PostgreSQL when the node is part of a cluster (postgres.url,
 * its pool given), otherwise the embedded SQLite file. Both hash secrets with the server key in
 * the data directory (server.key), which every node of a cluster must share.
 */
export async function openGatewayRegistry(opts: { dataDir: string; pool?: pg.Pool | undefined; logger: Logger }): Promise<DeviceRegistry> {
  if (!opts.pool) return openRegistry(opts.dataDir)
  mkdirSync(opts.dataDir, { recursive: true })
  return PostgresRegistry.open(opts.pool, SecretHasher.fromKeyFile(join(opts.dataDir, 'server.key')), opts.logger)
}
