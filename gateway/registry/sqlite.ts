import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteAudit } from './audit.ts'
import { SqliteCameraConfigs } from './camera-configs.ts'
import { SqliteDevices } from './devices.ts'
import { migrate } from '../sqlite/migrate.ts'
import { MIGRATIONS } from './migrations.ts'
import { SecretHasher } from './secrets.ts'
import { SqliteTokens } from './tokens.ts'
import { SqliteUsers } from './users.ts'
import { ComposedRegistry } from './composed.ts'
import type { Actor, AuditEntry, Page, RevocationEvent } from './types.ts'

/**
 * The embedded registry: one SQLite file in the data directory, keyed hashes for every secret.
 *
 * Its parts share the database and one cache of prepared statements: devices (devices.ts), API
 * tokens (tokens.ts), camera configurations (camera-configs.ts), the audit log (audit.ts) and the
 * user accounts (users.ts).
 */
export class SqliteRegistry extends ComposedRegistry {
  private readonly db: Database.Database
  private readonly hasher: SecretHasher
  protected readonly events = new EventEmitter<{ revoked: [RevocationEvent]; tokenRevoked: [string] }>()
  // Preparing a statement costs more than running it; the MQTT connect path runs these per CONNECT.
  private readonly statements = new Map<string, Database.Statement>()
  private readonly auditLog: SqliteAudit
  protected readonly devices: SqliteDevices
  protected readonly tokens: SqliteTokens
  protected readonly cameras: SqliteCameraConfigs
  readonly users: SqliteUsers

  constructor(dbFile: string, keyFile: string) {
    super()
    this.hasher = SecretHasher.fromKeyFile(keyFile)
    this.db = new Database(dbFile)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    migrate(this.db, MIGRATIONS)
    const sql = (t: string): Database.Statement => this.sql(t)
    const audit = (...a: Parameters<SqliteAudit['record']>): void => this.auditLog.record(...a)
    this.auditLog = new SqliteAudit(sql)
    const shared = { db: this.db, sql, hasher: this.hasher, record: audit }
    this.devices = new SqliteDevices(shared, (ev) => this.events.emit('revoked', ev))
    this.tokens = new SqliteTokens(shared, (id) => this.events.emit('tokenRevoked', id))
    this.cameras = new SqliteCameraConfigs(shared)
    this.users = new SqliteUsers(shared)
  }

  // --- audit -----------------------------------------------------------------------------------

  async listAudit(page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>> {
    return this.auditLog.listAudit(page)
  }

  async audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void> {
    this.auditLog.record(actor, action, target, detail)
  }

  async close(): Promise<void> {
    this.statements.clear()
    if (this.db.open) this.db.close()
  }

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text)
    if (!st) {
      st = this.db.prepare(text)
      this.statements.set(text, st)
    }
    return st
  }
}

/** Opens (creating on first use) the registry in the data directory and the server key (server.key there unless given). */
export function openRegistry(dataDir: string, keyFile = join(dataDir, 'server.key')): SqliteRegistry {
  mkdirSync(dataDir, { recursive: true })
  return new SqliteRegistry(join(dataDir, 'registry.db'), keyFile)
}
