import type { Alert } from '../alerts.ts'
import { formatNumber, formatTime, useI18n } from '../i18n.ts'
import type { StationLevel } from '../stations.ts'

// A device's series as SVG: the line of values, the station's alarm levels (Decision
// 05/2020/QĐ-TTg) as labelled horizontal lines, and the alerts as marks at the time they opened.
// No chart library: a few hundred points and three lines need none.

export interface Point {
  ts: string
  value: number
}

const L = 64
const R = 64
const T = 30
const B = 34

export function StationChart({
  label,
  points,
  levels,
  alerts,
  from,
  to,
  unit,
  narrow,
}: {
  label: string
  /** A phone: a narrower drawing, so its text stays readable when scaled to the screen. */
  narrow: boolean
  points: Point[]
  levels: StationLevel[]
  alerts: Alert[]
  from: number
  to: number
  unit: string
}) {
  const { t, lang } = useI18n()
  const W = narrow ? 500 : 1000
  const H = narrow ? 330 : 290
  const set = levels.filter((l): l is StationLevel & { value: number } => l.value !== null)
  const values = [...points.map((p) => p.value), ...set.map((l) => l.value)]
  let lo = values.length ? Math.min(...values) : 0
  let hi = values.length ? Math.max(...values) : 1
  const pad = Math.max((hi - lo) * 0.08, 0.1)
  lo -= pad
  hi += pad
  const x = (ms: number) => L + ((ms - from) / (to - from)) * (W - L - R)
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B)
  const u = unit ? ` ${unit}` : ''
  const ticks = Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4)
  const n = narrow ? 3 : 5
  const times = Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1))
  const short = (ms: number) =>
    new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
      timeZone: 'Asia/Ho_Chi_Minh',
      day: '2-digit',
      month: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    }).format(ms)
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(Date.parse(p.ts)).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')
  return (
    <svg class="station-chart" viewBox={`0 0 ${W} ${H}`} role="group" aria-label={label}>
      <rect class="chart-bg" x={L} y={T} width={W - L - R} height={H - T - B} />
      {ticks.map((v) => (
        <g key={v} aria-hidden="true">
          <line class="grid" x1={L} x2={W - R} y1={y(v)} y2={y(v)} />
          <text class="axis" x={L - 6} y={y(v) + 4} text-anchor="end">
            {formatNumber(lang, Number(v.toFixed(hi - lo >= 2 ? 1 : 2)))}
          </text>
        </g>
      ))}
      {times.map((ms) => (
        <text
          key={ms}
          aria-hidden="true"
          class="axis"
          x={x(ms)}
          y={H - 10}
          text-anchor={ms === from ? 'start' : ms === to ? 'end' : 'middle'}
        >
          {short(ms)}
        </text>
      ))}
      {set.map((l) => {
        const name = t('station.levelLine', { level: l.level, value: formatNumber(lang, l.value) })
        return (
          <g
            key={l.level}
            role="img"
            aria-label={name}
            class={`level-line lvl-${['I', 'II', 'III'].indexOf(l.level) + 1}`}
            data-level={l.level}
          >
            <line x1={L} x2={W - R} y1={y(l.value)} y2={y(l.value)} />
            <text x={W - R + 4} y={y(l.value) + 4}>
              {l.level}
            </text>
          </g>
        )
      })}
      {path && <path class="series" d={path} aria-hidden="true" />}
      {alerts.map((a) => {
        const ms = Date.parse(a.opened_at)
        if (!(ms >= from && ms <= to)) return null
        const v = a.value ?? points[points.length - 1]?.value ?? lo
        const name = t('station.alertMark', { severity: t(`severity.${a.severity}`), title: a.title, time: formatTime(lang, a.opened_at) })
        return (
          <g key={a.id} role="img" aria-label={name} class={`alert-mark sev-${a.severity}`} data-alert={a.id}>
            <path d={`M${x(ms)},${y(v) - 12} l8,14 h-16 z`} />
            <line x1={x(ms)} x2={x(ms)} y1={T} y2={H - B} />
          </g>
        )
      })}
      <text class="axis unit" x={L - 6} y={T - 12} text-anchor="end" aria-hidden="true">
        {u.trim()}
      </text>
    </svg>
  )
}
