import type pg from 'pg'
import { pageOf } from '../cursor.ts'
import {
  deviceAuthResult,
  deviceListWhere,
  deviceInsertValues,
  deviceUpdateValues,
  newDeviceId,
  patchedDevice,
  toDevice,
  type DeviceRow,
} from '../devices.ts'

import { newSecret, type SecretHasher } from '../secrets.ts'
import {
  RegistryError,
  type Actor,
  type Device,
  type DeviceAuthResult,
  type DeviceFilter,
  type DevicePatch,
  type NewDevice,
  type Page,
  type RevocationEvent,
} from '../types.ts'
import { inTx, type Db, type PgAudit } from './db.ts'
import { numbered } from '../../pg/placeholders.ts'

const DEVICE_COLUMNS = 'd.id, d.kind, d.name, d.station, d.district, d.lat, d.lon, d.tags, d.state, d.created_at, d.updated_at'

/**
 * Devices and their credentials in PostgreSQL, with the SQLite registry's semantics (../devices.ts).
 * A change that ends a device's access is announced in its transaction (`revoke`, a NOTIFY that
 * PostgreSQL delivers to every node on commit).
 */
export class PgDevices {
  constructor(
    private readonly pool: pg.Pool,
    private readonly hasher: SecretHasher,
    private readonly audit: PgAudit,
    private readonly revoke: (db: Db, ev: RevocationEvent) => Promise<void>,
  ) {}

  async createDevice(input: NewDevice, actor: Actor): Promise<{ device: Device; secret: string }> {
    const id = newDeviceId(input)
    const now = new Date().toISOString()
    const secret = newSecret()
    await inTx(this.pool, async (db) => {
      const r = await db.query(
        `INSERT INTO devices (id, kind, name, station, district, lat, lon, tags, state, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9) ON CONFLICT (id) DO NOTHING`,
        [...deviceInsertValues(id, input), now],
      )
      if (r.rowCount === 0) {
        throw new RegistryError('conflict', `device "${id}" already exists; choose another id or omit it to have one generated`)
      }
      await db.query('INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES ($1, $2, $3)', [
        id,
        this.hasher.hash(secret),
        now,
      ])
      await this.audit(db, actor, 'device.create', id, { kind: input.kind, name: input.name })
    })
    return { device: await this.requireDevice(id), secret }
  }

  async getDevice(id: string, db: Db = this.pool): Promise<Device | undefined> {
    const { rows } = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.id = $1`, [id])
    return rows[0] ? toDevice(rows[0]) : undefined
  }

  async listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Promise<Page<Device>> {
    const where = deviceListWhere(filter, page.cursor)
    const sql = `SELECT ${DEVICE_COLUMNS} FROM devices d ${numbered(where.sql)} ORDER BY id LIMIT $${where.args.length + 1}`
    const { rows } = await this.pool.query<DeviceRow>(sql, [...where.args, page.limit + 1])
    return pageOf(rows.map(toDevice), page.limit, (d) => d.id)
  }

  async updateDevice(id: string, patch: DevicePatch, actor: Actor): Promise<Device> {
    await inTx(this.pool, async (db) => {
      // FOR UPDATE: two nodes changing one device apply one after the other, each on the other's result.
      const { rows } = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.id = $1 FOR UPDATE`, [id])
      if (!rows[0]) throw new RegistryError('not_found', `device "${id}" does not exist`)
      const before = toDevice(rows[0])
      const next = patchedDevice(before, patch)
      await db.query(
        `UPDATE devices SET name = $1, station = $2, district = $3, lat = $4, lon = $5, tags = $6, state = $7, updated_at = $8 WHERE id = $9`,
        [...deviceUpdateValues(next), id],
      )
      if (next.state === 'decommissioned') await db.query('DELETE FROM device_credentials WHERE device_id = $1', [id])
      await this.audit(db, actor, 'device.update', id, patch as Record<string, unknown>)
      if (next.state !== 'active' && before.state === 'active') {
        await this.revoke(db, { deviceId: id, reason: next.state === 'disabled' ? 'disabled' : 'decommissioned' })
      }
    })
    return this.requireDevice(id)
  }

  async removeDevice(id: string, actor: Actor): Promise<Device> {
    await inTx(this.pool, async (db) => {
      const r = await db.query("UPDATE devices SET state = 'decommissioned', updated_at = $1 WHERE id = $2", [new Date().toISOString(), id])
      if (r.rowCount === 0) throw new RegistryError('not_found', `device "${id}" does not exist`)
      await db.query('DELETE FROM device_credentials WHERE device_id = $1', [id])
      await this.audit(db, actor, 'device.remove', id, null)
      await this.revoke(db, { deviceId: id, reason: 'removed' })
    })
    return this.requireDevice(id)
  }

  async rotateSecret(id: string, actor: Actor): Promise<{ device: Device; secret: string }> {
    const secret = newSecret()
    const device = await inTx(this.pool, async (db) => {
      const { rows } = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.id = $1 FOR UPDATE`, [id])
      if (!rows[0]) throw new RegistryError('not_found', `device "${id}" does not exist`)
      if (rows[0].state === 'decommissioned') {
        throw new RegistryError('conflict', `device "${id}" is decommissioned and cannot get a new secret`)
      }
      await db.query(
        `INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (device_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at`,
        [id, this.hasher.hash(secret), new Date().toISOString()],
      )
      await this.audit(db, actor, 'device.rotate_secret', id, null)
      await this.revoke(db, { deviceId: id, reason: 'secret_rotated' })
      return toDevice(rows[0])
    })
    return { device, secret }
  }

  async authenticateDevice(id: string, secret: string): Promise<DeviceAuthResult> {
    const { rows } = await this.pool.query<DeviceRow & { secret_hash: Buffer | null }>(
      `SELECT ${DEVICE_COLUMNS}, c.secret_hash FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id WHERE d.id = $1`,
      [id],
    )
    return deviceAuthResult(rows[0], secret, this.hasher)
  }

  private async requireDevice(id: string): Promise<Device> {
    const d = await this.getDevice(id)
    if (!d) throw new RegistryError('not_found', `device "${id}" does not exist`)
    return d
  }
}
