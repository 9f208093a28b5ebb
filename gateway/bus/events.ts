import { EventEmitter } from 'node:events'
import type { DeviceKind } from '../registry/types.ts'

/** A checked, normalised reading, emitted after it is durable in the time-series store. */
export interface Reading {
  device: string
  kind: DeviceKind
  station: string | null
  district: string | null
  /** Event time, epoch ms (the reading's own timestamp). */
  ts: number
  seq: number | null
  /** Canonical metrics plus derived ones (alarm_level, rise_rate, aqi, ...). */
  values: Record<string, number>
  /** Arrived well after its event time (replayed after an outage). */
  late: boolean
}

export interface DeviceStatusEvent {
  device: string
  online: boolean
  ts: number
  fw?: string | undefined
  uptime?: number | undefined
}

/**
 * In-process events between capabilities. Producers emit only after their own write is durable,
 * so consumers may be restarted and replayed; every consumer must be idempotent.
 */
export interface GatewayEventMap {
  reading: [Reading]
  'device-status': [DeviceStatusEvent]
}

export class GatewayBus extends EventEmitter<GatewayEventMap> {}
