import type { DevicePublishHandler } from '../broker/types.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { FETCH_HINT, searchDirs, unusableModels } from '../../models/manifest.ts'
import type { VisionConfig } from './config.ts'

// Vision is an optional capability: a clone without model weights (they are never in the
// repository) still runs the gateway, with vision off and saying so everywhere an operator looks:
// /readyz, the log at start, the camera routes, and a metric for every frame it cannot analyse.

/**
 * Why vision cannot run with these models (each file missing or with a wrong sha256), as one
 * line ending with what to do; null when every model is usable.
 */
export async function visionOffReason(
  cfg: VisionConfig,
  modelsDir: string | undefined,
): Promise<{ summary: string; details: string[] } | null> {
  const bad = await unusableModels([...new Set([cfg.detector.model, cfg.flood.segmenter.model])], modelsDir)
  if (bad.length === 0) return null
  return {
    summary: `vision off: no usable ${bad.map((b) => b.file).join(', ')} in ${searchDirs(modelsDir).join(', ')}; ${FETCH_HINT}`,
    details: bad.map((b) => b.reason),
  }
}

export interface VisionOff {
  /** The one line /readyz, the log and the camera routes give. */
  reason: string
  /** Broker route for `frames`: acknowledged (nothing a device can fix by resending), counted, not analysed. */
  frames: DevicePublishHandler
  /** For the camera routes: why there is no snapshot or detection to give. */
  unavailable(): string
}

export function createVisionOff(d: { logger: Logger; metrics: Metrics; reason: string; details: string[] }): VisionOff {
  // The same series the pipeline counts refused frames in, so dashboards and alerts see them.
  const frames = d.metrics.counter(
    'vision_frames_total',
    'Camera frames by outcome (analysed, skipped_motion, dropped_newer, rejected, failed)',
    ['outcome'],
  )
  const rejected = d.metrics.counter('vision_frames_rejected_total', 'Camera frames refused, by reason', ['reason'])
  d.logger.warn({ models: d.details }, d.reason)
  const told = new Set<string>()
  return {
    reason: d.reason,
    unavailable: () => d.reason,
    frames: async (msg) => {
      frames.inc({ outcome: 'rejected' })
      rejected.inc({ reason: 'vision_off' })
      // Once per camera at warn (which camera sends frames nobody analyses), then debug.
      const first = !told.has(msg.device.id)
      if (first) told.add(msg.device.id)
      d.logger[first ? 'warn' : 'debug'](
        { device: msg.device.id, reason: 'vision_off', bytes: msg.payload.length },
        'vision: frame not analysed, vision is off',
      )
    },
  }
}
