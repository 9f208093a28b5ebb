import { join } from 'node:path'
import { Compile } from 'typebox/compile'
import { loadStations } from '../../gateway/domain/stations.ts'
import { ReportSchema, type RainGaugeReport, type Report, type WaterLevelStationReport } from '../../gateway/reports/types.ts'
import { ROOT } from '../support/gateway-process.ts'

// A situation report over one day (docs/reports.md) for the renderers' tests: the water-level
// stations and their alarm levels come from the project's own config/stations.yaml (real
// Vietnamese names such as Kim Long, Phú Ốc, Thượng Nhật), the figures are chosen so each section
// has something to show. It is checked against the report schema, so a change to the type that
// the renderers have not followed fails here first.

export const FROM = '2026-12-02T17:00:00.000Z' // 03/12/2026 00:00 in Asia/Ho_Chi_Minh
export const TO = '2026-12-03T17:00:00.000Z'

/** A rain gauge's row for the day: over a 24 h period, its wettest 24 h is the whole period. */
function rainDay(
  where: Pick<RainGaugeReport, 'station' | 'name' | 'district'>,
  readings: number,
  total_mm: number,
  max_1h: RainGaugeReport['max_1h'],
): RainGaugeReport {
  return { ...where, readings, total_mm, max_1h, max_24h: { value: total_mm, at: FROM } }
}

export function reportFixture(lang: 'vi' | 'en' = 'vi', opts: { alerts?: number } = {}): Report {
  const stations = loadStations(join(ROOT, 'config', 'stations.yaml')).all()
  const water: WaterLevelStationReport[] = Object.entries(stations).map(([id, st], i) => {
    const levels = { I: st.levels?.I ?? null, II: st.levels?.II ?? null, III: st.levels?.III ?? null }
    const base = levels.II ?? 2.15
    const max = id === 'kim-long' ? 2.15 : Math.round((base - 0.4 + i * 0.05) * 100) / 100
    const level =
      levels.I === null
        ? null
        : levels.III !== null && max >= levels.III
          ? 3
          : levels.II !== null && max >= levels.II
            ? 2
            : max >= levels.I
              ? 1
              : 0
    return {
      station: id,
      name: st.name,
      ...(st.river ? { river: st.river } : {}),
      levels,
      readings: 288,
      max: { value: max, at: '2026-12-03T07:35:00.000Z' },
      min: { value: Math.round((max - 1.1) * 100) / 100, at: '2026-12-02T17:05:00.000Z' },
      last: { value: Math.round((max - 0.3) * 100) / 100, at: '2026-12-03T16:55:00.000Z' },
      max_level: level,
      time_at_level_s:
        level === 2 ? { below: 36_000, I: 28_800, II: 18_000, III: 0 } : { below: 79_200, I: level ? 3600 : 0, II: 0, III: 0 },
      covered_s: level === 2 ? 82_800 : level ? 82_800 : 79_200,
      first_reached: level === 2 ? { I: '2026-12-03T03:00:00.000Z', II: '2026-12-03T06:10:00.000Z' } : {},
      max_rise_rate: { value: id === 'kim-long' ? 0.42 : 0.12, at: '2026-12-03T05:20:00.000Z' },
      max_fall_rate: { value: -0.2, at: '2026-12-03T12:00:00.000Z' },
    }
  })
  const n = opts.alerts ?? 3
  const items: Report['alerts']['items'] = Array.from({ length: n }, (_, i) => ({
    id: `a${i + 1}`,
    kind: 'water_level',
    rule: 'flood-levels',
    severity: i % 2 ? 'major' : 'critical',
    title: i === 0 ? 'Kim Long ở mức báo động II' : `Phú Ốc vượt báo động I (lần ${i + 1})`,
    station: i === 0 ? 'kim-long' : 'phu-oc',
    level: i === 0 ? 2 : 1,
    state: i === 0 ? 'resolved' : 'acknowledged',
    opened_at: new Date(Date.parse('2026-12-03T06:10:00.000Z') + i * 60_000).toISOString(),
    acknowledged_at: '2026-12-03T06:22:00.000Z',
    acknowledged_by: 'Nguyễn Thị Hương',
    time_to_ack_s: 720,
    ...(i === 0 ? { resolved_at: '2026-12-03T11:40:00.000Z', resolved_by: 'Trần Văn Đức', time_to_resolve_s: 19_800 } : {}),
    notifications: { sent: 4, failed: i === 0 ? 1 : 0, pending: 0 },
  }))
  const report: Report = {
    version: 1,
    lang,
    title: lang === 'vi' ? 'Báo cáo tình hình ngày 03/12/2026 – Thừa Thiên Huế' : 'Situation report 03/12/2026 – Thừa Thiên Huế',
    summary: 'Kim Long ở mức báo động II',
    generated_at: '2026-12-03T17:05:00.000Z',
    period: { from: FROM, to: TO, tz: 'Asia/Ho_Chi_Minh', hours: 24 },
    filters: {},
    store: 'sqlite',
    hold_max_s: { sensors: 900, cameras: 120 },
    water_levels: water,
    rainfall: [
      rainDay({ station: 'kim-long', name: 'Kim Long' }, 288, 187.4, { value: 42.6, at: '2026-12-03T04:00:00.000Z' }),
      rainDay({ station: 'a-luoi-rain', name: 'A Lưới', district: 'A Lưới' }, 280, 231.2, { value: 51, at: '2026-12-03T02:00:00.000Z' }),
    ],
    air_quality: [
      {
        station: 'aq-hue-center',
        name: 'Trạm không khí Phường Phú Hội',
        district: 'Thành phố Huế',
        hours: 24,
        hours_by_band: { good: 10, moderate: 9, poor: 4, bad: 1, very_bad: 0, hazardous: 0 },
        max_aqi: { value: 162, at: '2026-12-03T00:00:00.000Z' },
        mean_aqi: 71,
      },
    ],
    cameras: [
      {
        camera: 'cam-le-loi',
        name: 'Ngã tư Lê Lợi – Hùng Vương',
        district: 'Thành phố Huế',
        zones: ['lane-1', 'lane-2'],
        frames: 17_280,
        vehicles: { car: 10_412, motorcycle: 58_930, bus: 512, truck: 903, bicycle: 2_214 },
        peak: { car: 14, motorcycle: 61, bus: 2, truck: 3, bicycle: 5 },
        congestion_s: { 0: 54_000, 1: 21_600, 2: 7_200, 3: 3_600 },
        max_congestion: { value: 3, at: '2026-12-03T10:30:00.000Z' },
      },
    ],
    alerts: {
      opened: n,
      by_kind: { water_level: n },
      by_severity: { critical: Math.ceil(n / 2), major: Math.floor(n / 2) },
      acknowledged: { count: n, median_s: 720, max_s: 720 },
      resolved: { count: n ? 1 : 0, median_s: n ? 19_800 : null, max_s: n ? 19_800 : null },
      notifications: {
        sent: n * 4,
        failed: n ? 1 : 0,
        pending: 0,
        by_channel: { sms: { sent: n * 2, failed: n ? 1 : 0, pending: 0 }, zalo: { sent: n * 2, failed: 0, pending: 0 } },
      },
      items,
    },
    labels: { sections: {}, fields: {}, units: {}, levels: {}, aqi_bands: {}, congestion: {}, vehicle_classes: {} },
  }
  const check = Compile(ReportSchema)
  if (!check.Check(report))
    throw new Error(`report fixture does not match the schema: ${JSON.stringify([...check.Errors(report)].slice(0, 3))}`)
  return report
}

/** Kim Long's water level over the day: rising to 2,15 m at 14:35 local time, then falling. */
export function kimLongSeries(): Array<{ ts: string; value: number }> {
  const from = Date.parse(FROM)
  return Array.from({ length: 25 }, (_, h) => {
    const v = h <= 14 ? 1.05 + (1.1 * h) / 14 : 2.15 - (0.8 * (h - 14)) / 10
    return { ts: new Date(from + h * 3_600_000).toISOString(), value: Math.round(v * 100) / 100 }
  })
}
