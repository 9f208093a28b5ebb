import { placeInScope } from '../registry/scope.ts'
import type { SummaryRow } from '../store/types.ts'
import { atValue, byName, byTag, nameOf, placeWhere, round, type SectionContext } from './context.ts'
import { CONGESTION_KEYS, VEHICLE_CLASS_KEYS, type CameraReport, type CongestionKey, type VehicleClassKey } from './types.ts'

// Cameras, from the `detections` measurement (one point per counting zone per analysed frame,
// docs/data-model.md): vehicles by class summed over frames and zones, the most of a class in one
// zone of one frame, and the time at each congestion level of the camera's worst zone (the zones
// of a frame share its time; levelDurations keeps their highest value).

export async function cameraSection(ctx: SectionContext): Promise<CameraReport[]> {
  const { req } = ctx
  const base = { measurement: 'detections', from: req.from, to: req.to, where: placeWhere(req) }
  const sum = (field: VehicleClassKey) => ctx.store.summarize({ ...base, field, fn: 'sum', groupBy: ['camera'] })
  const peak = (field: VehicleClassKey) => ctx.store.summarize({ ...base, field, fn: 'max', groupBy: ['camera'] })
  const [frames, sums, peaks, maxCongestion, durations] = await Promise.all([
    ctx.store.summarize({ ...base, field: 'congestion', fn: 'count', groupBy: ['camera', 'zone', 'station', 'district'] }),
    Promise.all(VEHICLE_CLASS_KEYS.map(sum)),
    Promise.all(VEHICLE_CLASS_KEYS.map(peak)),
    ctx.store.summarize({ ...base, field: 'congestion', fn: 'max', groupBy: ['camera'] }),
    ctx.store.levelDurations({
      ...base,
      field: 'congestion',
      groupBy: ['camera'],
      thresholds: [1, 2, 3],
      holdMaxMs: ctx.holdMaxMs.cameras,
    }),
  ])
  const cams = new Map<string, { station?: string | undefined; district?: string | undefined; zones: Set<string>; frames: number }>()
  for (const r of frames) {
    const id = r.tags.camera
    if (!id) continue
    let c = cams.get(id)
    if (!c) cams.set(id, (c = { zones: new Set(), frames: 0 }))
    c.station ??= r.tags.station
    c.district ??= r.tags.station ? (ctx.stations.get(r.tags.station)?.district ?? r.tags.district) : r.tags.district
    if (r.tags.zone) c.zones.add(r.tags.zone)
    c.frames = Math.max(c.frames, r.value)
  }
  const index = (rows: SummaryRow[][]) => rows.map((r) => byTag(r, 'camera'))
  const [sumBy, peakBy] = [index(sums), index(peaks)]
  const congBy = byTag(maxCongestion, 'camera')
  const durBy = new Map(durations.map((d) => [d.tags.camera, d]))
  const out: CameraReport[] = []
  for (const [id, c] of cams) {
    if (!placeInScope(ctx.scope, { station: c.station, district: c.district })) continue
    const counts = (by: Array<Map<string, SummaryRow>>) =>
      Object.fromEntries(VEHICLE_CLASS_KEYS.map((k, i) => [k, Math.round(by[i]!.get(id)?.value ?? 0)])) as Record<VehicleClassKey, number>
    const d = durBy.get(id)
    const congestion = Object.fromEntries(CONGESTION_KEYS.map((k, i) => [k, round((d?.durations[i] ?? 0) / 1000, 3)])) as Record<
      CongestionKey,
      number
    >
    const registered = await ctx.deviceName?.(id)
    out.push({
      camera: id,
      ...(c.station ? { station: c.station } : {}),
      name: registered ?? (c.station ? `${nameOf(ctx, c.station)} (${id})` : id),
      ...(c.district ? { district: c.district } : {}),
      zones: [...c.zones].sort(),
      frames: c.frames,
      vehicles: counts(sumBy),
      peak: counts(peakBy),
      congestion_s: congestion,
      max_congestion: atValue(congBy.get(id), 2),
    })
  }
  return out.sort(byName)
}
