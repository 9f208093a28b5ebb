import type { Point, TimeSeriesStore } from '../store/types.ts'
import type { DetectionPoint, DetectionSink } from './pipeline.ts'

/** Points of the `detections` measurement (docs/data-model.md); unknown tags are left out. */
export function toStorePoint(p: DetectionPoint): Point {
  const tags: Record<string, string> = { camera: p.camera, zone: p.zone }
  if (p.station) tags.station = p.station
  if (p.district) tags.district = p.district
  return { measurement: 'detections', tags, fields: p.fields as Record<string, number>, ts: p.ts }
}

/** Writes detection points through the time-series store (durable when it resolves). */
export function storeSink(store: Pick<TimeSeriesStore, 'write'>): DetectionSink {
  return (points) => (points.length ? store.write(points.map(toStorePoint)) : Promise.resolve())
}
