import { left, right, type BarChart, type DocBlock, type DocSection, type LineChart, type ReportDoc } from './document.ts'
import { duration, fullTime, num, shortTime } from './format.ts'
import { labels, type Label, type LabelKey } from './render-labels.ts'
import type { AqiBandKey, AtValue, CongestionKey, Lang, LevelKey, Report, VehicleClassKey, WaterLevelStationReport } from './types.ts'

// The report JSON (gateway/reports/types.ts) laid out as headings, tables and charts in one
// language (docs/reports.md, "PDF and printing"). The PDF and the console page draw the result.

/** A station's water level over the period, for the line chart (the report JSON holds no series). */
export type WaterSeries = Record<string, Array<{ ts: string; value: number }>>

export interface ViewOptions {
  /** Per water-level station id: its readings (hourly maxima are plenty for a chart). */
  series?: WaterSeries
}

/** Colours of the bands, written out in every legend too (colour is never the only sign). */
export const LEVEL_COLORS = ['#16a34a', '#facc15', '#f97316', '#dc2626'] as const
/** Decision 1459/QĐ-TCMT, Table 1: green, yellow, orange, red, purple, maroon. */
export const AQI_COLORS = ['#00e400', '#ffff00', '#ff7e00', '#ff0000', '#8f3f97', '#7e0023'] as const
export const CONGESTION_COLORS = ['#16a34a', '#facc15', '#f97316', '#dc2626'] as const
export const NO_DATA_COLOR = '#cbd5e1'

const ROMAN = ['I', 'II', 'III'] as const

// The key lists of types.ts, restated here with only its types imported: the console bundles this
// file and must not pull in the schema library. `satisfies` keeps each list whole and exact.
const keys = <K extends string>(o: Record<K, 0>) => Object.keys(o) as K[]
const LEVEL_KEYS = keys({ below: 0, I: 0, II: 0, III: 0 } satisfies Record<LevelKey, 0>)
const AQI_BAND_KEYS = keys({ good: 0, moderate: 0, poor: 0, bad: 0, very_bad: 0, hazardous: 0 } satisfies Record<AqiBandKey, 0>)
const CONGESTION_KEYS = keys<CongestionKey>({ '0': 0, '1': 0, '2': 0, '3': 0 })
const VEHICLE_CLASS_KEYS = keys({ car: 0, motorcycle: 0, bus: 0, truck: 0, bicycle: 0 } satisfies Record<VehicleClassKey, 0>)

export function reportDocument(report: Report, lang: Lang, opts: ViewOptions = {}): ReportDoc {
  const t = labels(lang)
  const at = (v: AtValue | null, unit: string, digits = 2) => (v ? `${num(lang, v.value, digits)}${unit ? ` ${unit}` : ''}` : '–')
  const when = (v: AtValue | null) => (v ? shortTime(lang, v.at) : '–')
  const hours = (s: number) => num(lang, s / 3600, 1)
  const units = { h: t('unit.h'), min: t('unit.min') }

  const scope = report.filters.station
    ? t('scope.station', { v: report.filters.station })
    : report.filters.district
      ? t('scope.district', { v: report.filters.district })
      : t('scope.all')
  const meta = [
    { label: t('meta.period'), value: `${fullTime(lang, report.period.from)} – ${fullTime(lang, report.period.to)}` },
    { label: t('meta.scope'), value: scope },
    { label: t('meta.generated'), value: fullTime(lang, report.generated_at) },
  ]
  const periodS = report.period.hours * 3600

  return {
    lang,
    title: report.title,
    meta,
    sections: [
      water(report, lang, t, opts, { at, when, hours, periodS }),
      rain(report, lang, t, { at, when }),
      air(report, lang, t, { at, when }),
      traffic(report, lang, t, hours),
      alerts(report, lang, t, units),
      notifications(report, lang, t),
    ],
    footnotes: [
      t('foot.levels'),
      t('foot.hold', {
        sensors: duration(lang, report.hold_max_s.sensors, units),
        cameras: duration(lang, report.hold_max_s.cameras, units),
      }),
    ],
  }
}

interface Fmt {
  at: (v: AtValue | null, unit: string, digits?: number) => string
  when: (v: AtValue | null) => string
}

const stationName = (s: { name: string; river?: string | undefined }) => (s.river ? `${s.name} (${s.river})` : s.name)

type SectionId = 'water' | 'rain' | 'air' | 'traffic' | 'alerts' | 'notify'

/** A section under its id's heading (`sec.<id>`). */
function section(id: SectionId, t: Label, blocks: DocBlock[]): DocSection {
  return { id, heading: t(`sec.${id}`), blocks }
}

/** A section with no rows: only the note saying so. */
function noteOnly(id: SectionId, t: Label, note: LabelKey): DocSection {
  return section(id, t, [{ kind: 'note', text: t(note) }])
}

function water(
  report: Report,
  lang: Lang,
  t: Label,
  opts: ViewOptions,
  f: Fmt & { hours: (s: number) => string; periodS: number },
): DocSection {
  const blocks: DocBlock[] = []
  const rows = report.water_levels
  if (rows.length === 0) return noteOnly('water', t, 'empty.water')
  const levelText = (s: WaterLevelStationReport) =>
    s.max_level === null ? '–' : s.max_level === 0 ? t('level.none') : t('level.reached', { level: ROMAN[s.max_level - 1]! })
  const levelsText = (s: WaterLevelStationReport) =>
    [s.levels.I, s.levels.II, s.levels.III].map((v) => (v === null ? '–' : num(lang, v))).join(' / ')
  blocks.push({
    kind: 'table',
    caption: t('cap.waterMax'),
    columns: [
      left(t('col.station'), 3),
      right(`${t('col.max')} (m)`, 1.4),
      left(t('col.at'), 1.5),
      left(t('col.maxLevel'), 2.2),
      right(`${t('col.rise')} (${t('unit.mph')})`, 1.9),
      right(`${t('col.levels')} (m)`, 2),
    ],
    rows: rows.map((s) => [
      stationName(s),
      f.at(s.max, ''),
      f.when(s.max),
      levelText(s),
      s.max_rise_rate ? `${num(lang, s.max_rise_rate.value)} (${shortTime(lang, s.max_rise_rate.at)})` : '–',
      levelsText(s),
    ]),
    empty: t('empty.water'),
  })
  const legend = [
    ...LEVEL_KEYS.map((k, i) => ({ label: t(`level.${k}`), color: LEVEL_COLORS[i]! })),
    { label: t('col.noData'), color: NO_DATA_COLOR },
  ]
  blocks.push({
    kind: 'bars',
    caption: t('cap.waterTime'),
    legend,
    rows: rows.map((s) => ({
      label: s.name,
      values: [...LEVEL_KEYS.map((k) => s.time_at_level_s[k] / 3600), Math.max(0, f.periodS - s.covered_s) / 3600],
    })),
    unit: t('unit.h'),
    valueText: (v) => num(lang, v, 1),
  })
  blocks.push({
    kind: 'table',
    caption: t('cap.waterTime'),
    columns: [left(t('col.station'), 3), ...legend.map((l) => right(l.label, 1.4))],
    rows: rows.map((s) => [s.name, ...LEVEL_KEYS.map((k) => f.hours(s.time_at_level_s[k])), f.hours(Math.max(0, f.periodS - s.covered_s))]),
    empty: t('empty.water'),
  })
  for (const s of rows) {
    const points = (opts.series?.[s.station] ?? [])
      .map((p) => ({ t: Date.parse(p.ts), v: p.value }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
    if (points.length < 2) continue
    blocks.push(lineChart(report, lang, t, s, points))
  }
  return section('water', t, blocks)
}

function lineChart(report: Report, lang: Lang, t: Label, s: WaterLevelStationReport, points: Array<{ t: number; v: number }>): LineChart {
  const from = Date.parse(report.period.from)
  const to = Date.parse(report.period.to)
  const ticks = Array.from({ length: 5 }, (_, i) => from + ((to - from) * i) / 4).map((ms) => ({ t: ms, text: shortTime(lang, ms) }))
  return {
    kind: 'line',
    caption: t('cap.waterChart', { name: s.name }),
    unit: 'm',
    from,
    to,
    points,
    lines: ROMAN.flatMap((r, i) => {
      const v = s.levels[r]
      return v === null ? [] : [{ label: r, value: v, tone: i + 1 }]
    }),
    ticks,
    valueText: (v) => num(lang, v),
  }
}

function rain(report: Report, lang: Lang, t: Label, f: Fmt): DocSection {
  const rows = report.rainfall
  if (rows.length === 0) return noteOnly('rain', t, 'empty.rain')
  return section('rain', t, [
    {
      kind: 'table',
      caption: t('cap.rain'),
      columns: [
        left(t('col.gauge'), 3),
        right(`${t('col.total')} (mm)`, 1.3),
        right(`${t('col.max1h')} (mm)`, 1.6),
        left(t('col.at'), 1.4),
        right(`${t('col.max24h')} (mm)`, 1.6),
        left(t('col.at'), 1.4),
      ],
      rows: rows.map((g) => [
        g.name,
        num(lang, g.total_mm, 1),
        f.at(g.max_1h, '', 1),
        f.when(g.max_1h),
        f.at(g.max_24h, '', 1),
        f.when(g.max_24h),
      ]),
      empty: t('empty.rain'),
    },
  ])
}

function air(report: Report, lang: Lang, t: Label, f: Fmt): DocSection {
  const rows = report.air_quality
  if (rows.length === 0) return noteOnly('air', t, 'empty.air')
  const bands: BarChart = {
    kind: 'bars',
    caption: t('cap.airBands'),
    legend: AQI_BAND_KEYS.map((k, i) => ({ label: t(`aqi.${k}`), color: AQI_COLORS[i]! })),
    rows: rows.map((s) => ({ label: s.name, values: AQI_BAND_KEYS.map((k) => s.hours_by_band[k]) })),
    unit: t('unit.h'),
    valueText: (v) => num(lang, v, 0),
  }
  return section('air', t, [
    {
      kind: 'table',
      caption: t('cap.air'),
      columns: [
        left(t('col.station'), 3),
        right(t('col.hours'), 1),
        ...AQI_BAND_KEYS.map((k) => right(t(`aqi.${k}`), 1.1)),
        right(t('col.maxAqi'), 1.3),
        left(t('col.at'), 1.3),
        right(t('col.meanAqi'), 1.3),
      ],
      rows: rows.map((s) => [
        s.name,
        num(lang, s.hours, 0),
        ...AQI_BAND_KEYS.map((k) => num(lang, s.hours_by_band[k], 0)),
        f.at(s.max_aqi, '', 0),
        f.when(s.max_aqi),
        s.mean_aqi === null ? '–' : num(lang, s.mean_aqi, 0),
      ]),
      empty: t('empty.air'),
    },
    bands,
  ])
}

function traffic(report: Report, lang: Lang, t: Label, hours: (s: number) => string): DocSection {
  const rows = report.cameras
  if (rows.length === 0) return noteOnly('traffic', t, 'empty.cameras')
  const legend = CONGESTION_KEYS.map((k, i) => ({ label: `${k}: ${t(`cong.${k}`)}`, color: CONGESTION_COLORS[i]! }))
  return section('traffic', t, [
    {
      kind: 'table',
      caption: t('cap.vehicles'),
      columns: [left(t('col.camera'), 3), right(t('col.frames'), 1.2), ...VEHICLE_CLASS_KEYS.map((k) => right(t(`veh.${k}`), 1.1))],
      rows: rows.map((c) => [c.name, num(lang, c.frames, 0), ...VEHICLE_CLASS_KEYS.map((k) => num(lang, c.vehicles[k], 0))]),
      empty: t('empty.cameras'),
    },
    {
      kind: 'bars',
      caption: t('cap.congestion'),
      legend,
      rows: rows.map((c) => ({ label: c.name, values: CONGESTION_KEYS.map((k) => c.congestion_s[k] / 3600) })),
      unit: t('unit.h'),
      valueText: (v) => num(lang, v, 1),
    },
    {
      kind: 'table',
      caption: t('cap.congestion'),
      columns: [left(t('col.camera'), 3), ...legend.map((l) => right(l.label, 1.3))],
      rows: rows.map((c) => [c.name, ...CONGESTION_KEYS.map((k) => hours(c.congestion_s[k]))]),
      empty: t('empty.cameras'),
    },
  ])
}

function alerts(report: Report, lang: Lang, t: Label, units: { h: string; min: string }): DocSection {
  const a = report.alerts
  const d = (s: number | null) => (s === null ? '–' : duration(lang, s, units))
  const after = (s: number | undefined, who: string | undefined) =>
    s === undefined ? '–' : who ? t('by', { time: duration(lang, s, units), who }) : duration(lang, s, units)
  const state = (s: string) => (s === 'open' || s === 'acknowledged' || s === 'resolved' ? t(`state.${s}`) : s)
  const severity = (s: string) => (s === 'info' || s === 'minor' || s === 'major' || s === 'critical' ? t(`sev.${s}`) : s)
  return section('alerts', t, [
    {
      kind: 'note',
      text: t('alerts.summary', {
        opened: a.opened,
        acked: a.acknowledged.count,
        ackMedian: d(a.acknowledged.median_s),
        resolved: a.resolved.count,
        resMedian: d(a.resolved.median_s),
      }),
    },
    {
      kind: 'table',
      caption: t('cap.alerts'),
      columns: [
        left(t('col.alert'), 3.2),
        left(t('col.opened'), 1.3),
        left(t('col.ack'), 1.9),
        left(t('col.resolved'), 1.9),
        left(t('col.state'), 1.3),
        right(t('col.sentFailed'), 1.2),
      ],
      rows: a.items.map((i) => [
        `${i.title} (${severity(i.severity)})`,
        shortTime(lang, i.opened_at),
        after(i.time_to_ack_s, i.acknowledged_by),
        after(i.time_to_resolve_s, i.resolved_by),
        state(i.state),
        `${i.notifications.sent} / ${i.notifications.failed}`,
      ]),
      empty: t('empty.alerts'),
    },
  ])
}

function notifications(report: Report, lang: Lang, t: Label): DocSection {
  const n = report.alerts.notifications
  const channels = Object.entries(n.by_channel).sort(([x], [y]) => x.localeCompare(y))
  return section('notify', t, [
    {
      kind: 'note',
      text: t('notify.summary', { sent: num(lang, n.sent, 0), failed: num(lang, n.failed, 0), pending: num(lang, n.pending, 0) }),
    },
    {
      kind: 'table',
      caption: t('cap.notify'),
      columns: [left(t('col.channel'), 2), right(t('col.sent'), 1), right(t('col.failed'), 1), right(t('col.pending'), 1)],
      rows: channels.map(([ch, c]) => [ch, num(lang, c.sent, 0), num(lang, c.failed, 0), num(lang, c.pending, 0)]),
      empty: t('empty.notify'),
    },
  ])
}
