import { GatewayBus, type Reading } from '../../gateway/bus/events.ts'
import type { DevicePublish } from '../../gateway/broker/types.ts'
import { createIngest, type IngestDeps } from '../../gateway/ingest/ingest.ts'
import type { IngestPoint, PointSink } from '../../gateway/ingest/points.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import type { Device, DeviceKind } from '../../gateway/registry/types.ts'
import { valuesAtReadings } from '../../gateway/store/derived-view.ts'
import { DERIVED_CARRIERS } from '../../gateway/store/types.ts'
import { metricValue } from '../support/metrics.ts'

export function device(id: string, kind: DeviceKind, station: string | null = null): Device {
  const t = new Date().toISOString()
  return { id, kind, name: id, station, district: 'Huế', location: null, tags: [], state: 'active', created_at: t, updated_at: t }
}

export function publish(
  dev: Device,
  payload: unknown,
  opts: { subtopic?: string; receivedAt?: number; raw?: boolean } = {},
): DevicePublish {
  const subtopic = opts.subtopic ?? 'telemetry'
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(opts.raw ? String(payload) : JSON.stringify(payload))
  return {
    device: dev,
    topic: `devices/${dev.id}/${subtopic}`,
    subtopic,
    payload: buf,
    qos: 1,
    retain: false,
    receivedAt: opts.receivedAt ?? Date.now(),
  }
}

/** Collects what ingest writes; `fail` makes the next writes reject (a store outage). */
export class MemorySink implements PointSink {
  points: IngestPoint[] = []
  fail = false
  async write(points: readonly IngestPoint[]): Promise<void> {
    if (this.fail) throw new Error('store unavailable')
    this.points.push(...points)
  }
  readings(): IngestPoint[] {
    return this.points.filter((p) => p.measurement === 'readings')
  }
  /**
   * The readings with the derived values a reader finds for each (from the `derived` points, by
   * the rule of docs/data-model.md), as one point per reading held them all before `derived`.
   */
  readingsWithDerived(): IngestPoint[] {
    const byDevice = (m: string, device: string) =>
      this.points.filter((p) => p.measurement === m && p.tags.device === device).sort((a, b) => a.ts - b.ts)
    const out = this.readings().map((p) => ({ ...p, fields: { ...p.fields } }))
    for (const device of new Set(out.map((p) => p.tags.device!))) {
      const readings = byDevice('readings', device)
      const derived = byDevice('derived', device)
      for (const metric of Object.keys(DERIVED_CARRIERS))
        for (const v of valuesAtReadings(readings, derived, metric))
          for (const p of out) if (p.tags.device === device && p.ts === v.ts) p.fields[metric] = v.value
    }
    return out
  }
}

export function setup(extra: Partial<IngestDeps> = {}) {
  const sink = new MemorySink()
  const bus = new GatewayBus()
  const metrics = new Metrics({ defaults: false })
  const events: Reading[] = []
  bus.on('reading', (r) => events.push(r))
  const ingest = createIngest({
    store: sink,
    bus,
    logger: createLogger('silent'),
    metrics,
    stations: loadStations(new URL('../../config/stations.yaml', import.meta.url).pathname),
    ...extra,
  })
  const rejected = (reason?: string) => metricValue(metrics, 'ingest_rejected_total', reason === undefined ? {} : { reason })
  return { sink, bus, metrics, events, ingest, rejected }
}
