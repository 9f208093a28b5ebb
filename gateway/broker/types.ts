import type { Device } from '../registry/types.ts'

/** A message a device published under `devices/{id}/`, already past authentication and the ACL. */
export interface DevicePublish {
  device: Device
  /** Full topic, e.g. `devices/kim-long-01/telemetry`. */
  topic: string
  /** What follows `devices/{id}/`, e.g. `telemetry`, `status`, `frames/1700000000000`, `cmd/ack`. */
  subtopic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  /** Arrival time, epoch ms. */
  receivedAt: number
}

/**
 * Handles one device publish. The broker awaits it before acknowledging (PUBACK for QoS 1), so a
 * handler resolves only once the message is durable or deliberately refused:
 * - resolve: accepted (or refused for good, e.g. invalid payload: the handler counts and records
 *   the reason itself; the device must not resend what can never be accepted);
 * - reject: a transient failure (store and its disk buffer unavailable); the broker does not
 *   acknowledge, so a QoS 1 publisher sends it again.
 */
export type DevicePublishHandler = (msg: DevicePublish) => Promise<void>

/** Subtopic routes: first segment of the subtopic (`telemetry`, `status`, `frames`, `cmd`). */
export type DevicePublishRoutes = Partial<Record<'telemetry' | 'status' | 'frames' | 'cmd', DevicePublishHandler>>
