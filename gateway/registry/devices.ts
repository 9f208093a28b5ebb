import { randomBytes } from 'node:crypto'
import { decodeCursor, pageOf } from './cursor.ts'
import { newSecret, type SecretHasher } from './secrets.ts'
import { scopeSql } from './scope.ts'
import { SqlWhere } from '../util/sql-where.ts'
import {
  DEVICE_ID_PATTERN,
  RegistryError,
  type Actor,
  type Device,
  type DeviceAuthResult,
  type DeviceFilter,
  type DeviceKind,
  type DevicePatch,
  type DeviceState,
  type NewDevice,
  type Page,
  type RevocationEvent,
} from './types.ts'
import { SqlitePart, type SqliteShared } from './sqlite-part.ts'

/** A devices row as both stores read it: `tags` is JSON text in SQLite and JSONB (an array) in PostgreSQL. */
export interface DeviceRow {
  id: string
  kind: DeviceKind
  name: string
  station: string | null
  district: string | null
  lat: number | null
  lon: number | null
  tags: string | string[]
  state: DeviceState
  created_at: string
  updated_at: string
}

const ID_RE = new RegExp(DEVICE_ID_PATTERN)
// `token` is the MQTT username integrations log in with (docs/mqtt.md "Integrations"), so no device may have it.
const RESERVED_IDS = new Set(['token'])
const KIND_PREFIX: Record<DeviceKind, string> = { water_level: 'wl', rain_gauge: 'rg', air_quality: 'aq', camera: 'cam' }

/** The id a new device gets: the one asked for, checked, or a generated one with its kind's prefix. */
export function newDeviceId(input: Pick<NewDevice, 'id' | 'kind'>): string {
  const id = input.id ?? `${KIND_PREFIX[input.kind]}-${randomBytes(5).toString('hex')}`
  if (!ID_RE.test(id)) throw new RegistryError('invalid', `device id "${id}" must match ${DEVICE_ID_PATTERN}`)
  if (RESERVED_IDS.has(id))
    throw new RegistryError('invalid', `device id "${id}" is reserved (MQTT username of integrations); choose another`)
  return id
}

export function toDevice(r: DeviceRow): Device {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    station: r.station,
    district: r.district,
    location: r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon },
    tags: typeof r.tags === 'string' ? (JSON.parse(r.tags) as string[]) : r.tags,
    state: r.state,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }
}

/**
 * The device after `patch`; a decommissioned device stays so (a new one is registered instead),
 * whichever store holds it.
 */
export function patchedDevice(before: Device, patch: DevicePatch): Device {
  if (before.state === 'decommissioned' && patch.state !== undefined && patch.state !== 'decommissioned') {
    throw new RegistryError('conflict', `device "${before.id}" is decommissioned; register a new device instead of reactivating it`)
  }
  return { ...before, ...patch, updated_at: new Date().toISOString() }
}

/** The columns `UPDATE devices SET name, station, district, lat, lon, tags, state, updated_at` writes, in that order. */
export function deviceUpdateValues(next: Device): unknown[] {
  const { name, station, district, location, tags, state, updated_at } = next
  return [name, station, district, location?.lat ?? null, location?.lon ?? null, JSON.stringify(tags), state, updated_at]
}

/** The columns `INSERT INTO devices (id, kind, name, station, district, lat, lon, tags, ...)` writes first, in that order. */
export function deviceInsertValues(id: string, input: NewDevice): unknown[] {
  const { kind, name, station, district, location, tags } = input
  return [id, kind, name, station ?? null, district ?? null, location?.lat ?? null, location?.lon ?? null, JSON.stringify(tags ?? [])]
}

/** The device list's filters and cursor (ids after it), for both stores. */
export function deviceListWhere(filter: DeviceFilter, cursor: string | undefined): SqlWhere {
  const after = decodeCursor(cursor)
  return new SqlWhere()
    .equals('kind', filter.kind || undefined)
    .equals('station', filter.station || undefined)
    .equals('state', filter.state || undefined)
    .and(scopeSql(filter.scope))
    .and(after === undefined ? undefined : 'id > ?', after)
}

/** The answer to a device's login, from its row joined with its credentials (no row: unknown device). */
export function deviceAuthResult(
  row: (DeviceRow & { secret_hash: Buffer | null }) | undefined,
  secret: string,
  hasher: SecretHasher,
): DeviceAuthResult {
  if (!row) return { ok: false, reason: 'unknown_device' }
  // The secret is checked before the state so that only a holder of the secret learns the state.
  if (row.secret_hash === null) return { ok: false, reason: row.state === 'decommissioned' ? 'device_decommissioned' : 'bad_secret' }
  if (!hasher.matches(secret, row.secret_hash)) return { ok: false, reason: 'bad_secret' }
  if (row.state === 'disabled') return { ok: false, reason: 'device_disabled' }
  if (row.state === 'decommissioned') return { ok: false, reason: 'device_decommissioned' }
  return { ok: true, device: toDevice(row) }
}

/** Devices and their credentials (keyed hashes of the secrets); a change that ends a device's access is announced. */
export class SqliteDevices extends SqlitePart {
  constructor(
    shared: SqliteShared,
    private readonly emitRevoked: (ev: RevocationEvent) => void,
  ) {
    super(shared)
  }

  createDevice(input: NewDevice, actor: Actor): { device: Device; secret: string } {
    const id = newDeviceId(input)
    const now = new Date().toISOString()
    const secret = newSecret()
    const tx = this.db.transaction(() => {
      const exists = this.sql('SELECT 1 FROM devices WHERE id = ?').get(id)
      if (exists) throw new RegistryError('conflict', `device "${id}" already exists; choose another id or omit it to have one generated`)
      this.sql(
        `INSERT INTO devices (id, kind, name, station, district, lat, lon, tags, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
      ).run(...deviceInsertValues(id, input), now, now)
      this.sql('INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES (?, ?, ?)').run(
        id,
        this.hasher.hash(secret),
        now,
      )
      this.record(actor, 'device.create', id, { kind: input.kind, name: input.name })
    })
    tx()
    return { device: this.requireDevice(id), secret }
  }

  getDevice(id: string): Device | undefined {
    const row = this.sql('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined
    return row ? toDevice(row) : undefined
  }

  listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Page<Device> {
    const where = deviceListWhere(filter, page.cursor)
    const rows = this.sql(`SELECT * FROM devices ${where.sql} ORDER BY id LIMIT ?`).all(...where.args, page.limit + 1) as DeviceRow[]
    return pageOf(rows.map(toDevice), page.limit, (d) => d.id)
  }

  updateDevice(id: string, patch: DevicePatch, actor: Actor): Device {
    const before = this.requireDevice(id)
    const next = patchedDevice(before, patch)
    this.db.transaction(() => {
      this.sql(
        `UPDATE devices SET name = ?, station = ?, district = ?, lat = ?, lon = ?, tags = ?, state = ?, updated_at = ?
           WHERE id = ?`,
      ).run(...deviceUpdateValues(next), id)
      if (next.state === 'decommissioned') this.sql('DELETE FROM device_credentials WHERE device_id = ?').run(id)
      this.record(actor, 'device.update', id, patch as Record<string, unknown>)
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
      this.record(actor, 'device.remove', id, null)
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
      this.record(actor, 'device.rotate_secret', id, null)
    })()
    this.emitRevoked({ deviceId: id, reason: 'secret_rotated' })
    return { device, secret }
  }

  authenticateDevice(id: string, secret: string): DeviceAuthResult {
    const row = this.sql(
      'SELECT d.*, c.secret_hash FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id WHERE d.id = ?',
    ).get(id) as (DeviceRow & { secret_hash: Buffer | null }) | undefined
    return deviceAuthResult(row, secret, this.hasher)
  }

  private requireDevice(id: string): Device {
    const d = this.getDevice(id)
    if (!d) throw new RegistryError('not_found', `device "${id}" does not exist`)
    return d
  }
}
