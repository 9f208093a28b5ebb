import type { Actor, CameraConfigRecord } from './types.ts'
import { SqlitePart } from './sqlite-part.ts'

interface CameraConfigRow {
  camera: string
  config: string
  updated_at: string
}

function toCameraConfig(r: CameraConfigRow): CameraConfigRecord {
  return { camera: r.camera, config: JSON.parse(r.config) as Record<string, unknown>, updated_at: r.updated_at }
}

/** Each camera's configuration, stored as JSON and audited on every change. */
export class SqliteCameraConfigs extends SqlitePart {
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
      this.record(actor, 'camera.config', camera, config)
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
      if (r.changes > 0) this.record(actor, 'camera.config.seed', camera, config)
      return r.changes > 0
    })()
  }
}
