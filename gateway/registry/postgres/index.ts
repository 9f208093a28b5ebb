import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import { StartupError } from '../../net/listen.ts'
import { migratePg } from '../../pg/migrate.ts'
import type { SecretHasher } from '../secrets.ts'
import { ComposedRegistry } from '../composed.ts'
import type { Actor, AuditEntry, Page } from '../types.ts'
import { listAudit, recordAudit } from './audit.ts'
import { PgCameraConfigs } from './camera-configs.ts'
import { PgDevices } from './devices.ts'
import { REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE } from './migrations.ts'
import { Revocations } from './revocations.ts'
import { PgTokens } from './tokens.ts'
import { PgUsers } from './users.ts'

/**
 * The registry in PostgreSQL (cluster mode, docs/operations.md "Registry in PostgreSQL"): the same
 * interface and semantics as the SQLite one, shared by every node. The pool belongs to the caller.
 */
export class PostgresRegistry extends ComposedRegistry {
  protected readonly devices: PgDevices
  protected readonly tokens: PgTokens
  protected readonly cameras: PgCameraConfigs
  protected readonly events: Revocations['events']
  readonly users: PgUsers

  private constructor(
    private readonly pool: pg.Pool,
    hasher: SecretHasher,
    private readonly revocations: Revocations,
  ) {
    super()
    this.events = revocations.events
    this.devices = new PgDevices(pool, hasher, recordAudit, (db, ev) => revocations.deviceRevoked(db, ev))
    this.tokens = new PgTokens(pool, hasher, recordAudit, (db, id) => revocations.tokenRevoked(db, id))
    this.cameras = new PgCameraConfigs(pool, recordAudit)
    this.users = new PgUsers(pool, hasher, recordAudit)
    revocations.events.on('tokenRevoked', (id) => this.tokens.forget(id))
  }

  /** Migrates (once across nodes), checks the server key against the cluster's, and starts listening for revocations. */
  static async open(pool: pg.Pool, hasher: SecretHasher, logger: Logger): Promise<PostgresRegistry> {
    await migratePg(pool, REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE)
    await checkServerKey(pool, hasher)
    const revocations = new Revocations(pool, logger.child({ component: 'registry' }))
    try {
      await revocations.start()
    } catch (err) {
      await revocations.close()
      throw err
    }
    return new PostgresRegistry(pool, hasher, revocations)
  }

  audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void> {
    return recordAudit(this.pool, actor, action, target, detail)
  }
  listAudit(page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>> {
    return listAudit(this.pool, page)
  }

  /** Stops listening; the pool stays open (its owner closes it). */
  async close(): Promise<void> {
    await this.revocations.close()
  }
}

/**
 * Every node must hash secrets with the same server key, or a device registered through one node
 * fails to authenticate on another. The key itself never enters the database (a stolen copy of it
 * would then suffice to check guessed secrets); the first node records the key's fingerprint and
 * a node with another key refuses to start, saying what to do.
 */
async function checkServerKey(pool: pg.Pool, hasher: SecretHasher): Promise<void> {
  const mine = hasher.fingerprint()
  await pool.query('INSERT INTO registry_server_key (fingerprint, created_at) VALUES ($1, $2) ON CONFLICT (one) DO NOTHING', [
    mine,
    new Date().toISOString(),
  ])
  const { rows } = await pool.query<{ fingerprint: string }>('SELECT fingerprint FROM registry_server_key')
  if (rows[0]?.fingerprint !== mine) {
    throw new StartupError(
      "registry: this node's server key (server.keyFile, or server.key in the data directory) differs from the one the other nodes use; " +
        "copy server.key from a running node into this node's data directory, or point every node's server.keyFile (IOC_KEY_FILE) at one shared file " +
        '(docs/operations.md "Registry in PostgreSQL")',
    )
  }
}
