import type pg from 'pg'
import type { Actor, CameraConfigRecord } from '../types.ts'
import { inTx, type PgAudit } from './db.ts'

/** Each camera's configuration as JSONB, audited on every change. */
export class PgCameraConfigs {
  constructor(
    private readonly pool: pg.Pool,
    private readonly audit: PgAudit,
  ) {}

  async getCameraConfig(camera: string): Promise<CameraConfigRecord | undefined> {
    const { rows } = await this.pool.query<CameraConfigRecord>('SELECT camera, config, updated_at FROM camera_configs WHERE camera = $1', [
      camera,
    ])
    return rows[0]
  }

  async listCameraConfigs(): Promise<CameraConfigRecord[]> {
    return (await this.pool.query<CameraConfigRecord>('SELECT camera, config, updated_at FROM camera_configs ORDER BY camera')).rows
  }

  async setCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<CameraConfigRecord> {
    const now = new Date().toISOString()
    await inTx(this.pool, async (db) => {
      await db.query(
        `INSERT INTO camera_configs (camera, config, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (camera) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
        [camera, JSON.stringify(config), now],
      )
      await this.audit(db, actor, 'camera.config', camera, config)
    })
    return { camera, config, updated_at: now }
  }

  async seedCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<boolean> {
    return inTx(this.pool, async (db) => {
      const r = await db.query(
        'INSERT INTO camera_configs (camera, config, updated_at) VALUES ($1, $2, $3) ON CONFLICT (camera) DO NOTHING',
        [camera, JSON.stringify(config), new Date().toISOString()],
      )
      const stored = (r.rowCount ?? 0) > 0
      if (stored) await this.audit(db, actor, 'camera.config.seed', camera, config)
      return stored
    })
  }
}
