import type { Device } from '../registry/types.ts'
import { DERIVED_CARRIERS, type Point, type TimeSeriesStore } from '../store/types.ts'
import type { Reading } from '../bus/events.ts'

// Points of docs/data-model.md, written by ingest: `readings`, `derived`, `device_status`, `rejects`.

export type IngestPoint = Point

/** The part of the time-series store ingest needs: resolves once the points are durable. */
export type PointSink = Pick<TimeSeriesStore, 'write'>

function deviceTags(d: Pick<Device, 'id' | 'kind' | 'station' | 'district'>): Record<string, string> {
  // Unknown tags are omitted, never written as empty strings (data model rule).
  const tags: Record<string, string> = { device: d.id, kind: d.kind }
  if (d.station) tags.station = d.station
  if (d.district) tags.district = d.district
  return tags
}

// One tags object per device record (a session re-reads its record every few seconds, so an edit
// of station or district reaches the tags); the stores only read tags.
const tagsOfDevice = new WeakMap<Device, Readonly<Record<string, string>>>()

function tagsOf(d: Device): Readonly<Record<string, string>> {
  let tags = tagsOfDevice.get(d)
  if (!tags) tagsOfDevice.set(d, (tags = Object.freeze(deviceTags(d))))
  return tags
}

/**
 * A reading as the device sent it: its canonical values and seq. The values ingest derives from
 * it go to `derivedPoint` (docs/data-model.md, "Derived values").
 */
export function readingPoint(d: Device, r: Reading): IngestPoint {
  const fields: Record<string, number | string> = {}
  for (const k in r.values) if (!(k in DERIVED_CARRIERS)) fields[k] = r.values[k]!
  if (r.seq !== null) fields.seq = r.seq
  return { measurement: 'readings', tags: tagsOf(d), fields, ts: r.ts }
}

/** A `derived` point at the reading's time, with the device's tags (queries by station find it). */
export function derivedPoint(d: Device, r: Reading, fields: Record<string, number | string | boolean>): IngestPoint {
  return { measurement: 'derived', tags: tagsOf(d), fields, ts: r.ts }
}

export function statusPoint(
  d: Device,
  s: { online: boolean; ts: number; fw?: string; uptime?: number; queue_dropped?: number; queue_depth?: number },
): IngestPoint {
  const tags: Record<string, string> = { device: d.id, kind: d.kind }
  if (d.station) tags.station = d.station
  const fields: Record<string, number | string> = { online: s.online ? 1 : 0 }
  if (s.uptime !== undefined) fields.uptime = s.uptime
  if (s.fw !== undefined) fields.fw = s.fw
  if (s.queue_dropped !== undefined) fields.queue_dropped = s.queue_dropped
  if (s.queue_depth !== undefined) fields.queue_depth = s.queue_depth
  return { measurement: 'device_status', tags, fields, ts: s.ts }
}

export function rejectPoint(device: string, reason: string, ts: number): IngestPoint {
  return { measurement: 'rejects', tags: { device, reason }, fields: { count: 1 }, ts }
}
