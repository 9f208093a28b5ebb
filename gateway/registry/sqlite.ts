import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { migrate } from '../sqlite/migrate.ts'
import { MIGRATIONS } from './migrations.ts'
import { SecretHasher, newSecret, newToken } from './secrets.ts'
import { scopeSql } from './scope.ts'
import { SqliteUsers } from './users.ts'
import {
  DEVICE_ID_PATTERN,
  RegistryError,
  type Actor,
  type ApiToken,
  type AuditEntry,
  type CameraConfigRecord,
  type Device,
  type DeviceAuthResult,
  type DeviceFilter,
  type DeviceKind,
  type DevicePatch,
  type DeviceRegistry,
  type DeviceState,
  type NewDevice,
  type Page,
  type RevocationEvent,
  type Role,
} from './types.ts'

interface DeviceRow {
  id: string
  kind: DeviceKind
  name: string
  station: string | null
  district: string | null
  lat: number | null
  lon: number | null
  tags: string
  state: DeviceState
  created_at: string
  updated_at: string
}

interface TokenRow {
  id: string
  name: string
  role: Role
  created_at: string
  last_used_at: string | null
}

const ID_RE = new RegExp(DEVICE_ID_PATTERN)
// `token` is the MQTT username integrations log in with (docs/mqtt.md "Integrations"), so no device may have it.
const RESERVED_IDS = new Set(['token'])
const KIND_PREFIX: Record<DeviceKind, string> = { water_level: 'wl', rain_gauge: 'rg', air_quality: 'aq', camera: 'cam' }
// Writing last_used_at on every API call would turn each read into a write; a minute is precise enough.
const LAST_USED_PRECISION_MS = 60_000

interface CameraConfigRow {
  camera: string
  config: string
  updated_at: string
}

function toCameraConfig(r: CameraConfigRow): CameraConfigRecord {
  return { camera: r.camera, config: JSON.parse(r.config) as Record<string, unknown>, updated_at: r.updated_at }
}

function toDevice(r: DeviceRow): Device {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    station: r.station,
    district: r.district,
    location: r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon },
    tags: JSON.parse(r.tags) as string[],
    state: r.state,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }
}

/** The embedded registry: one SQLite file in the data directory, keyed hashes for every secret. */
export class SqliteRegistry implements DeviceRegistry {
  private readonly db: Database.Database
  private readonly hasher: SecretHasher
  private readonly events = new EventEmitter<{ revoked: [RevocationEvent]; tokenRevoked: [string] }>()
  private readonly tokenUse = new Map<string, number>()
  // Preparing a statement costs more than running it; the MQTT connect path runs these per CONNECT.
  private readonly statements = new Map<string, Database.Statement>()
  readonly users: SqliteUsers

  constructor(dbFile: string, keyFile: string) {
    this.hasher = SecretHasher.fromKeyFile(keyFile)
    this.db = new Database(dbFile)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    migrate(this.db, MIGRATIONS)
    this.users = new SqliteUsers(
      this.db,
      (t) => this.sql(t),
      this.hasher,
      (...a) => this.audit(...a),
    )
  }

  // --- devices ---------------------------------------------------------------------------------

  createDevice(input: NewDevice, actor: Actor): { device: Device; secret: string } {
    const id = input.id ?? `${KIND_PREFIX[input.kind]}-${randomBytes(5).toString('hex')}`
    if (!ID_RE.test(id)) throw new RegistryError('invalid', `device id "${id}" must match ${DEVICE_ID_PATTERN}`)
    if (RESERVED_IDS.has(id))
      throw new RegistryError('invalid', `device id "${id}" is reserved (MQTT username of integrations); choose another`)
    const now = new Date().toISOString()
    const secret = newSecret()
    const tx = this.db.transaction(() => {
      const exists = this.sql('SELECT 1 FROM devices WHERE id = ?').get(id)
      if (exists) throw new RegistryError('conflict', `device "${id}" already exists; choose another id or omit it to have one generated`)
      this.sql(
        `INSERT INTO devices (id, kind, name, station, district, lat, lon, tags, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
      ).run(
        id,
        input.kind,
        input.name,
        input.station ?? null,
        input.district ?? null,
        input.location?.lat ?? null,
        input.location?.lon ?? null,
        JSON.stringify(input.tags ?? []),
        now,
        now,
      )
      this.sql('INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES (?, ?, ?)').run(
        id,
        this.hasher.hash(secret),
        now,
      )
      this.audit(actor, 'device.create', id, { kind: input.kind, name: input.name })
    })
    tx()
    return { device: this.requireDevice(id), secret }
  }

  getDevice(id: string): Device | undefined {
    const row = this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined
    return row ? toDevice(row) : undefined
  }

  listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Page<Device> {
    const where: string[] = []
    const args: unknown[] = []
    const add = (sql: string, ...values: unknown[]): void => {
      where.push(sql)
      args.push(...values)
    }
    if (filter.kind) add('kind = ?', filter.kind)
    if (filter.station) add('station = ?', filter.station)
    if (filter.state) add('state = ?', filter.state)
    const scoped = scopeSql(filter.scope)
    if (scoped) add(scoped.sql, ...scoped.args)
    const after = decodeCursor(page.cursor)
    if (after !== undefined) add('id > ?', after)
    const sql = `SELECT * FROM devices ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`
    const rows = this.sql(sql).all(...args, page.limit + 1) as DeviceRow[]
    const items = rows.slice(0, page.limit).map(toDevice)
    return { items, next: rows.length > page.limit ? encodeCursor(items[items.length - 1]!.id) : null }
  }

  updateDevice(id: string, patch: DevicePatch, actor: Actor): Device {
    const before = this.requireDevice(id)
    if (before.state === 'decommissioned' && patch.state !== undefined && patch.state !== 'decommissioned') {
      throw new RegistryError('conflict', `device "${id}" is decommissioned; register a new device instead of reactivating it`)
    }
    const next: Device = { ...before, ...patch, updated_at: new Date().toISOString() }
    this.db.transaction(() => {
      this.sql(
        `UPDATE devices SET name = ?, station = ?, district = ?, lat = ?, lon = ?, tags = ?, state = ?, updated_at = ?
           WHERE id = ?`,
      ).run(
        next.name,
        next.station,
        next.district,
        next.location?.lat ?? null,
        next.location?.lon ?? null,
        JSON.stringify(next.tags),
        next.state,
        next.updated_at,
        id,
      )
      if (next.state === 'decommissioned') this.sql('DELETE FROM device_credentials WHERE device_id = ?').run(id)
      this.audit(actor, 'device.update', id, patch as Record<string, unknown>)
    })()
    if (next.state !== 'active' && before.state === 'active') {
      this.emitRevoked({ deviceId: id, reason: next.state === 'disabled' ? 'disabled' : 'decommissioned' })
    }
    return this.requireDevice(id)
  }

  removeDevice(id: string, actor: Actor): Device {
    this.requireDevice(id)
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql("UPDATE devices SET state = 'decommissioned', updated_at = ? WHERE id = ?").run(now, id)
      this.sql('DELETE FROM device_credentials WHERE device_id = ?').run(id)
      this.audit(actor, 'device.remove', id, null)
    })()
    this.emitRevoked({ deviceId: id, reason: 'removed' })
    return this.requireDevice(id)
  }

  rotateSecret(id: string, actor: Actor): { device: Device; secret: string } {
    const device = this.requireDevice(id)
    if (device.state === 'decommissioned') {
      throw new RegistryError('conflict', `device "${id}" is decommissioned and cannot get a new secret`)
    }
    const secret = newSecret()
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql(
        `INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES (?, ?, ?)
           ON CONFLICT(device_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at`,
      ).run(id, this.hasher.hash(secret), now)
      this.audit(actor, 'device.rotate_secret', id, null)
    })()
    this.emitRevoked({ deviceId: id, reason: 'secret_rotated' })
    return { device, secret }
  }

  authenticateDevice(id: string, secret: string): DeviceAuthResult {
    const row = this.sql(
      'SELECT d.*, c.secret_hash FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id WHERE d.id = ?',
    ).get(id) as (DeviceRow & { secret_hash: Buffer | null }) | undefined
    if (!row) return { ok: false, reason: 'unknown_device' }
    // The secret is checked before the state so that only a holder of the secret learns the state.
    if (row.secret_hash === null) return { ok: false, reason: row.state === 'decommissioned' ? 'device_decommissioned' : 'bad_secret' }
    if (!this.hasher.matches(secret, row.secret_hash)) return { ok: false, reason: 'bad_secret' }
    if (row.state === 'disabled') return { ok: false, reason: 'device_disabled' }
    if (row.state === 'decommissioned') return { ok: false, reason: 'device_decommissioned' }
    return { ok: true, device: toDevice(row) }
  }

  // --- API tokens ------------------------------------------------------------------------------

  createToken(input: { role: Role; name: string }, actor: Actor): { token: ApiToken; secret: string } {
    const id = `tok-${randomBytes(6).toString('hex')}`
    const secret = newToken()
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
        id,
        input.name,
        input.role,
        this.hasher.hash(secret),
        now,
      )
      this.audit(actor, 'token.create', id, { role: input.role, name: input.name })
    })()
    return { token: { id, name: input.name, role: input.role, created_at: now, last_used_at: null }, secret }
  }

  listTokens(page: { limit: number; cursor?: string | undefined }): Page<ApiToken> {
    const after = decodeCursor(page.cursor)
    const rows = this.sql(
      `SELECT id, name, role, created_at, last_used_at FROM api_tokens ${after !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`,
    ).all(...(after !== undefined ? [after] : []), page.limit + 1) as TokenRow[]
    const items = rows.slice(0, page.limit)
    return { items, next: rows.length > page.limit ? encodeCursor(items[items.length - 1]!.id) : null }
  }

  deleteToken(id: string, actor: Actor): void {
    const res = this.db.transaction(() => {
      const r = this.sql('DELETE FROM api_tokens WHERE id = ?').run(id)
      if (r.changes > 0) this.audit(actor, 'token.delete', id, null)
      return r
    })()
    if (res.changes === 0) throw new RegistryError('not_found', `token "${id}" does not exist`)
    this.events.emit('tokenRevoked', id)
  }

  authenticateToken(secret: string): ApiToken | undefined {
    // The hash is the lookup key; the index compares whole digests, so no timing leaks a prefix.
    const row = this.sql('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(
      this.hasher.hash(secret),
    ) as TokenRow | undefined
    if (!row) return undefined
    const now = Date.now()
    if (now - (this.tokenUse.get(row.id) ?? 0) > LAST_USED_PRECISION_MS) {
      this.tokenUse.set(row.id, now)
      const iso = new Date(now).toISOString()
      this.sql('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(iso, row.id)
      row.last_used_at = iso
    }
    return row
  }

  hasAdminToken(): boolean {
    return this.sql("SELECT 1 FROM api_tokens WHERE role = 'admin' LIMIT 1").get() !== undefined
  }

  ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): ApiToken {
    const hash = this.hasher.hash(input.secret)
    const existing = this.sql('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(hash) as
      TokenRow | undefined
    if (existing) return existing
    const id = `tok-${randomBytes(6).toString('hex')}`
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
        id,
        input.name,
        input.role,
        hash,
        now,
      )
      this.audit(actor, 'token.create', id, { role: input.role, name: input.name, bootstrap: true })
    })()
    return { id, name: input.name, role: input.role, created_at: now, last_used_at: null }
  }

  // --- audit -----------------------------------------------------------------------------------

  listAudit(page: { limit: number; cursor?: string | undefined }): Page<AuditEntry> {
    const before = decodeCursor(page.cursor)
    const rows = this.sql(`SELECT * FROM audit_log ${before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`).all(
      ...(before !== undefined ? [Number(before)] : []),
      page.limit + 1,
    ) as Array<AuditEntry & { detail: string | null }>
    const items = rows
      .slice(0, page.limit)
      .map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>) }))
    return { items, next: rows.length > page.limit ? encodeCursor(String(items[items.length - 1]!.id)) : null }
  }

  // --- camera configuration ---------------------------------------------------------------------

  getCameraConfig(camera: string): CameraConfigRecord | undefined {
    const row = this.sql('SELECT camera, config, updated_at FROM camera_configs WHERE camera = ?').get(camera) as
      CameraConfigRow | undefined
    return row ? toCameraConfig(row) : undefined
  }

  listCameraConfigs(): CameraConfigRecord[] {
    return (this.sql('SELECT camera, config, updated_at FROM camera_configs ORDER BY camera').all() as CameraConfigRow[]).map(
      toCameraConfig,
    )
  }

  setCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): CameraConfigRecord {
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql(
        `INSERT INTO camera_configs (camera, config, updated_at) VALUES (?, ?, ?)
           ON CONFLICT(camera) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      ).run(camera, JSON.stringify(config), now)
      this.audit(actor, 'camera.config', camera, config)
    })()
    return { camera, config, updated_at: now }
  }

  seedCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): boolean {
    return this.db.transaction(() => {
      const r = this.sql('INSERT INTO camera_configs (camera, config, updated_at) VALUES (?, ?, ?) ON CONFLICT(camera) DO NOTHING').run(
        camera,
        JSON.stringify(config),
        new Date().toISOString(),
      )
      if (r.changes > 0) this.audit(actor, 'camera.config.seed', camera, config)
      return r.changes > 0
    })()
  }

  onRevocation(listener: (ev: RevocationEvent) => void): () => void {
    this.events.on('revoked', listener)
    return () => this.events.off('revoked', listener)
  }

  onTokenRevocation(listener: (tokenId: string) => void): () => void {
    this.events.on('tokenRevoked', listener)
    return () => this.events.off('tokenRevoked', listener)
  }

  close(): void {
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

  private requireDevice(id: string): Device {
    const d = this.getDevice(id)
    if (!d) throw new RegistryError('not_found', `device "${id}" does not exist`)
    return d
  }

  audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): void {
    this.sql('INSERT INTO audit_log (ts, actor_type, actor_id, actor_name, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      new Date().toISOString(),
      actor.type,
      actor.id,
      actor.name ?? null,
      action,
      target,
      detail === null ? null : JSON.stringify(detail),
    )
  }

  private emitRevoked(ev: RevocationEvent): void {
    this.events.emit('revoked', ev)
  }
}

/** Opens (creating on first use) the registry and server key in the data directory. */
export function openRegistry(dataDir: string): SqliteRegistry {
  mkdirSync(dataDir, { recursive: true })
  return new SqliteRegistry(join(dataDir, 'registry.db'), join(dataDir, 'server.key'))
}
