import { accessSync, constants, statSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import Value from 'typebox/value'
import type { Logger } from '../log/logger.ts'
import type { Actor, DeviceRegistry } from '../registry/types.ts'
import { CameraVisionSchema, type CameraVisionConfig, type VisionConfig } from './config.ts'

// Each camera's vision configuration (zones, tiling, dry reference) lives in the registry and is
// changed through `PUT /api/v1/cameras/:id/config` (docs/api.md); gateway.yaml's
// `vision.cameras` only seeds it for cameras the registry has no configuration for yet.

const SEED_ACTOR: Actor = { type: 'system', id: 'gateway.yaml' }

/**
 * Seeds the registry from gateway.yaml (cameras without a stored configuration), then reads back
 * every stored configuration. One that no longer fits the schema is skipped with a warning (the
 * camera then runs with the defaults) rather than stopping the gateway.
 */
export async function loadCameraConfigs(
  registry: Pick<DeviceRegistry, 'seedCameraConfig' | 'listCameraConfigs'>,
  yaml: VisionConfig['cameras'],
  logger: Logger,
): Promise<Record<string, CameraVisionConfig>> {
  for (const [camera, config] of Object.entries(yaml)) {
    if (await registry.seedCameraConfig(camera, config as Record<string, unknown>, SEED_ACTOR)) {
      logger.info({ camera }, 'vision: camera configuration seeded from gateway.yaml into the registry')
    }
  }
  const out: Record<string, CameraVisionConfig> = {}
  for (const rec of await registry.listCameraConfigs()) {
    if (Value.Check(CameraVisionSchema, rec.config)) out[rec.camera] = rec.config
    else
      logger.warn(
        { camera: rec.camera, error: [...Value.Errors(CameraVisionSchema, rec.config)][0]?.message },
        'vision: stored camera configuration is not valid; the camera uses the defaults until it is replaced',
      )
  }
  return out
}

/** The stored configurations that fit the schema, with their change times (cluster mode rereads them). */
export async function storedCameraConfigs(
  registry: Pick<DeviceRegistry, 'listCameraConfigs'>,
): Promise<Array<{ camera: string; config: CameraVisionConfig; updatedAt: string }>> {
  const out: Array<{ camera: string; config: CameraVisionConfig; updatedAt: string }> = []
  // One that does not fit was reported at start (loadCameraConfigs); the API stores no such one.
  for (const rec of await registry.listCameraConfigs())
    if (Value.Check(CameraVisionSchema, rec.config)) out.push({ camera: rec.camera, config: rec.config, updatedAt: rec.updated_at })
  return out
}

/** Twice the signed area of a polygon (shoelace). */
function area2(poly: ReadonlyArray<readonly [number, number]>): number {
  let s = 0
  for (let i = 0; i < poly.length; i++) {
    const [x1, y1] = poly[i]!
    const [x2, y2] = poly[(i + 1) % poly.length]!
    s += x1 * y2 - x2 * y1
  }
  return s
}

/**
 * What the schema cannot say: zone ids unique within the camera, polygons with an area, and a
 * dry reference that is an absolute path to a readable file on the gateway. Each problem names
 * its field as `zones/1/id` (JSON pointer without the leading slash).
 */
export function cameraConfigProblem(c: CameraVisionConfig): { path: string; message: string } | null {
  const seen = new Map<string, number>()
  for (const [i, z] of (c.zones ?? []).entries()) {
    const first = seen.get(z.id)
    if (first !== undefined)
      return { path: `zones/${i}/id`, message: `"${z.id}" is already the id of zones/${first}; zone ids must be unique per camera` }
    seen.set(z.id, i)
    // 1e-4 of the frame is a 1 %-by-1 % square: anything smaller is a slip of the editor.
    if (Math.abs(area2(z.polygon)) / 2 < 1e-4) {
      return {
        path: `zones/${i}/polygon`,
        message: 'has no area (its points are on one line or the same point); give at least 3 points around the zone',
      }
    }
  }
  if (c.dryReference !== undefined) {
    if (!isAbsolute(c.dryReference))
      return { path: 'dryReference', message: `must be an absolute path on the gateway, got "${c.dryReference}"` }
    try {
      accessSync(c.dryReference, constants.R_OK)
      if (!statSync(c.dryReference).isFile()) throw new Error('not a file')
    } catch {
      return { path: 'dryReference', message: `no readable file at ${c.dryReference} on the gateway` }
    }
  }
  return null
}
