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
  /** Pollutant with the largest VN_AQI sub-index, when `values.aqi` is present. */
  aqi_dominant?: string | undefined
}

export interface DeviceStatusEvent {
  device: string
  online: boolean
  ts: number
  fw?: string | undefined
  uptime?: number | undefined
}

/** Vision result for one camera zone, emitted after the detection record is stored. */
export interface DetectionEvent {
  camera: string
  zone: string
  /** Capture time of the analysed frame, epoch ms (event time). */
  ts: number
  /** Vehicles by class inside the zone. */
  counts: Record<string, number>
  /** 0-3. */
  congestion: number
  /** Share of the zone covered by vehicles, 0-1. */
  occupancy: number
  /** Share of a flood zone covered by water, 0-1 (flood zones only). */
  water_ratio?: number | undefined
  station?: string | null | undefined
  district?: string | null | undefined
  /** Objects the detector boxed in the whole frame (every zone's event carries the same number). */
  boxes?: number | undefined
}

/**
 * In-process events between capabilities. Producers emit only after their own write is durable,
 * so consumers may be restarted and replayed; every consumer must be idempotent.
 */
export interface GatewayEventMap {
  reading: [Reading]
  'device-status': [DeviceStatusEvent]
  detection: [DetectionEvent]
}

export class GatewayBus extends EventEmitter<GatewayEventMap> {}
