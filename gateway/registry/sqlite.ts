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
import type {
  Actor,
  ApiToken,
  AuditEntry,
  CameraConfigRecord,
  Device,
  DeviceAuthResult,
  DeviceFilter,
  DevicePatch,
  DeviceRegistry,
  NewDevice,
  Page,
  RevocationEvent,
  Role,
} from './types.ts'

/**
 * The embedded registry: one SQLite file in the data directory, keyed hashes for every secret.
 *
 * Its parts share the database and one cache of prepared statements: devices (devices.ts), API
 * tokens (tokens.ts), camera configurations (camera-configs.ts), the audit log (audit.ts) and the
 * user accounts (users.ts).
 */
export class SqliteRegistry implements DeviceRegistry {
  private readonly db: Database.Database
  private readonly hasher: SecretHasher
  private readonly events = new EventEmitter<{ revoked: [RevocationEvent]; tokenRevoked: [string] }>()
  // Preparing a statement costs more than running it; the MQTT connect path runs these per CONNECT.
  private readonly statements = new Map<string, Database.Statement>()
  private readonly auditLog: SqliteAudit
  private readonly devices: SqliteDevices
  private readonly tokens: SqliteTokens
  private readonly cameras: SqliteCameraConfigs
  readonly users: SqliteUsers

  constructor(dbFile: string, keyFile: string) {
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
    this.devices = new SqliteDevices(this.db, sql, this.hasher, audit, (ev) => this.events.emit('revoked', ev))
    this.tokens = new SqliteTokens(this.db, sql, this.hasher, audit, (id) => this.events.emit('tokenRevoked', id))
    this.cameras = new SqliteCameraConfigs(this.db, sql, audit)
    this.users = new SqliteUsers(this.db, sql, this.hasher, audit)
  }

  // --- devices ---------------------------------------------------------------------------------

  async createDevice(input: NewDevice, actor: Actor): Promise<{ device: Device; secret: string }> {
    return this.devices.createDevice(input, actor)
  }

  async getDevice(id: string): Promise<Device | undefined> {
    return this.devices.getDevice(id)
  }

  async listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Promise<Page<Device>> {
    return this.devices.listDevices(filter, page)
  }

  async updateDevice(id: string, patch: DevicePatch, actor: Actor): Promise<Device> {
    return this.devices.updateDevice(id, patch, actor)
  }

  async removeDevice(id: string, actor: Actor): Promise<Device> {
    return this.devices.removeDevice(id, actor)
  }

  async rotateSecret(id: string, actor: Actor): Promise<{ device: Device; secret: string }> {
    return this.devices.rotateSecret(id, actor)
  }

  async authenticateDevice(id: string, secret: string): Promise<DeviceAuthResult> {
    return this.devices.authenticateDevice(id, secret)
  }

  // --- API tokens ------------------------------------------------------------------------------

  async createToken(input: { role: Role; name: string }, actor: Actor): Promise<{ token: ApiToken; secret: string }> {
    return this.tokens.createToken(input, actor)
  }

  async listTokens(page: { limit: number; cursor?: string | undefined }): Promise<Page<ApiToken>> {
    return this.tokens.listTokens(page)
  }

  async deleteToken(id: string, actor: Actor): Promise<void> {
    this.tokens.deleteToken(id, actor)
  }

  async authenticateToken(secret: string): Promise<ApiToken | undefined> {
    return this.tokens.authenticateToken(secret)
  }

  async hasAdminToken(): Promise<boolean> {
    return this.tokens.hasAdminToken()
  }

  async ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): Promise<ApiToken> {
    return this.tokens.ensureToken(input, actor)
  }

  // --- audit -----------------------------------------------------------------------------------

  async listAudit(page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>> {
    return this.auditLog.listAudit(page)
  }

  async audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void> {
    this.auditLog.record(actor, action, target, detail)
  }

  // --- camera configuration ---------------------------------------------------------------------

  async getCameraConfig(camera: string): Promise<CameraConfigRecord | undefined> {
    return this.cameras.getCameraConfig(camera)
  }

  async listCameraConfigs(): Promise<CameraConfigRecord[]> {
    return this.cameras.listCameraConfigs()
  }

  async setCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<CameraConfigRecord> {
    return this.cameras.setCameraConfig(camera, config, actor)
  }

  async seedCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<boolean> {
    return this.cameras.seedCameraConfig(camera, config, actor)
  }

  // ---------------------------------------------------------------------------------------------

  onRevocation(listener: (ev: RevocationEvent) => void): () => void {
    this.events.on('revoked', listener)
    return () => this.events.off('revoked', listener)
  }

  onTokenRevocation(listener: (tokenId: string) => void): () => void {
    this.events.on('tokenRevoked', listener)
    return () => this.events.off('tokenRevoked', listener)
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

/** Opens (creating on first use) the registry and server key in the data directory. */
export function openRegistry(dataDir: string): SqliteRegistry {
  mkdirSync(dataDir, { recursive: true })
  return new SqliteRegistry(join(dataDir, 'registry.db'), join(dataDir, 'server.key'))
}
