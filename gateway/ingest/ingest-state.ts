// What the ingest steps share (telemetry-steps.ts, status-steps.ts): the configuration, the
// derived-value state, the de-duplication tables, the metrics and the refusal record.
import type { DevicePublish } from '../broker/types.ts'
import type { GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { HourlyMeans } from './aqi-state.ts'
import type { CheckLimits } from './checks.ts'
import type { IngestConfig } from './config.ts'
import type { Gate } from './gate.ts'
import type { BoundedMap, RecentReadings } from '../util/lru.ts'
import { rejectPoint, type PointSink } from './points.ts'
import { Refused, type RejectReason } from './reasons.ts'
import type { RejectWarnings } from './reject-warnings.ts'
import { excerptOf, type RejectLog } from './rejects.ts'
import type { RiseRateState } from './rise-rate.ts'
import type { DerivedSeries } from './derived-state.ts'
import type { Stations } from '../domain/stations.ts'

export type IngestMetrics = ReturnType<typeof ingestMetrics>

export function ingestMetrics(metrics: Metrics) {
  return {
    messages: metrics.counter('ingest_messages_total', 'Device messages handled by ingest, by topic', ['topic']),
    readings: metrics.counter('ingest_readings_stored_total', 'Readings stored (durable) by ingest'),
    rejected: metrics.counter('ingest_rejected_total', 'Refused telemetry/status messages (or readings of a batch), by reason', ['reason']),
    duplicates: metrics.counter('ingest_duplicates_total', 'Readings already stored (same device, seq and ts), dropped'),
    late: metrics.counter('ingest_late_total', 'Readings stored with their own time after arriving late or out of order'),
    storeFailures: metrics.counter('ingest_store_failures_total', 'Writes that failed; the message was not acknowledged'),
  }
}

export interface IngestState {
  readonly deps: { store: PointSink; bus: GatewayBus }
  readonly cfg: IngestConfig
  readonly now: () => number
  readonly stations: Stations
  readonly hourly: HourlyMeans
  readonly rise: RiseRateState
  /** When a reading's derived values need a `derived` point (derived-state.ts). */
  readonly derived: DerivedSeries
  readonly rejects: RejectLog
  readonly limits: CheckLimits
  readonly lateAfterMs: number
  readonly seen: RecentReadings
  readonly lastTs: BoundedMap<string, number>
  readonly log: Logger
  readonly gate: Gate
  readonly warnings: RejectWarnings
  readonly m: IngestMetrics
  // Per message and per reading: summed locally, handed to prom-client when read.
  readonly telemetryMessages: { inc(): void }
  readonly readingsStored: { inc(n?: number): void }
  readonly lateReadings: { inc(): void }
}

/** A refused message kept for GET /devices/:id/rejects and counted in the device's warning line. */
export function record(ing: IngestState, msg: DevicePublish, reason: string, message: string): void {
  ing.rejects.add(msg.device.id, {
    ts: new Date(msg.receivedAt).toISOString(),
    topic: msg.topic,
    reason,
    message,
    excerpt: excerptOf(msg.payload),
  })
  ing.warnings.note(msg.device.id, reason, msg.topic)
}

export function refuse(ing: IngestState, msg: DevicePublish, reason: RejectReason, message: string): void {
  ing.m.rejected.inc({ reason })
  record(ing, msg, reason, message)
  ing.log.debug({ device: msg.device.id, reason, detail: message }, 'refused')
  // Best effort: the refusal is already counted and recorded; a store outage must not turn a
  // refusal into a transient failure that makes the device resend forever.
  ing.deps.store.write([rejectPoint(msg.device.id, reason, msg.receivedAt)]).catch(() => {})
}

export function decode(ing: IngestState, msg: DevicePublish): unknown {
  if (msg.payload.length > ing.cfg.maxPayloadBytes)
    throw new Refused('too_large', `payload is ${msg.payload.length} bytes; at most ${ing.cfg.maxPayloadBytes}`)
  if (msg.payload.length === 0) throw new Refused('invalid_json', 'payload is empty: send a JSON reading')
  try {
    return JSON.parse(msg.payload.toString('utf8'))
  } catch (err) {
    throw new Refused('invalid_json', `payload is not valid JSON: ${(err as Error).message.slice(0, 120)}`)
  }
}
