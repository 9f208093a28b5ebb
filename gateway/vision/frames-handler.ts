import type { DevicePublish, DevicePublishHandler } from '../broker/types.ts'
import type { Logger } from '../log/logger.ts'
import { captureTime, checkFrameBytes, type FrameReject } from './frame-check.ts'
import type { Frame, VisionPipeline } from './pipeline.ts'

/**
 * `devices/{id}/frames[/{epoch ms}]`. A refused frame resolves (refused for good: resending the
 * same bytes cannot help) and is counted by reason; an accepted one is queued (or handed to the
 * node holding the camera's lease) and the handler resolves at once: frames are a live view, not data a device must keep until it is stored, so a
 * camera is never held up by the model.
 */
export function createFramesHandler(
  pipeline: VisionPipeline,
  maxBytes: number,
  logger: Logger,
  /** Told of every refused frame (the device's rejects log, GET /devices/:id/rejects). */
  onRefused?: (msg: DevicePublish, reason: FrameReject) => void,
  /** Where an accepted frame goes: the pipeline, or in cluster mode the camera's lease holder (camera-leases.ts). */
  submit: (frame: Frame) => void | Promise<void> = (f) => pipeline.submit(f),
): DevicePublishHandler {
  return async (msg) => {
    const ts = captureTime(msg.subtopic, msg.receivedAt)
    const bad =
      msg.device.kind !== 'camera'
        ? 'not_camera'
        : typeof ts === 'number'
          ? checkFrameBytes(msg.payload, maxBytes, pipeline.maxFramePixels)
          : ts
    if (bad) {
      pipeline.reject(bad)
      onRefused?.(msg, bad)
      logger.info({ device: msg.device.id, reason: bad, bytes: msg.payload.length }, 'vision: frame refused')
      return
    }
    await submit({
      camera: msg.device.id,
      station: msg.device.station,
      district: msg.device.district,
      ts: ts as number,
      // aedes may reuse the packet buffer: keep our own copy for the worker and the snapshot.
      jpeg: Buffer.from(msg.payload),
    })
  }
}
