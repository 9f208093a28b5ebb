import { useEffect, useState } from 'preact/hooks'
import type { Alert } from '../alerts.ts'
import { ApiError, api } from '../api.ts'
import { formatNumber, formatTime, useI18n, type Translate } from '../i18n.ts'
import { useNarrow } from '../narrow.ts'
import { AppLink } from '../components/AppLink.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { loadFailureText } from '../failure.ts'
import { loadDevices, loadStationAlerts, loadStations, mainMetric, type Device, type Station } from '../stations.ts'
import { StationChart, type Point } from './StationChart.tsx'

type Range = 'day' | 'week'
const RANGES: Record<Range, { ms: number; every: string }> = {
  day: { ms: 86_400_000, every: '5m' },
  week: { ms: 7 * 86_400_000, every: '1h' },
}

interface Series {
  device: Device
  metric: string
  unit: string
  points: Point[]
}

/**
 * One station (or a sensor outside the stations file): its devices' series over 24 h or 7 d from
 * GET /devices/:id/readings (the bucket's maximum: a flood peak must not be averaged away), the
 * alarm levels and the alerts of GET /alerts?station=.
 */
export function StationPage({ id }: { id: string }) {
  const { t, lang } = useI18n()
  const [range, setRange] = useState<Range>('day')
  const [view, setView] = useState<{
    station: Station | null
    name: string
    series: Series[]
    alerts: Alert[]
    from: number
    to: number
  } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const narrow = useNarrow()

  useEffect(() => {
    let current = true
    const to = Date.now()
    const from = to - RANGES[range].ms
    ;(async () => {
      const [stations, devices] = await Promise.all([loadStations(), loadDevices()])
      const station = stations.find((s) => s.id === id) ?? null
      const own = station ? devices.filter((d) => d.station === id) : devices.filter((d) => d.id === id)
      if (!station && own.length === 0) throw new ApiError(404, 'not found')
      const series: Series[] = []
      for (const d of own) {
        const m = mainMetric(d.kind)
        if (!m) continue
        const q = `metric=${m.metric}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&every=${RANGES[range].every}&fn=max`
        const r = await api.get<{ unit: string; points: Array<{ ts: string; value: number | string | boolean }> }>(
          `/devices/${encodeURIComponent(d.id)}/readings?${q}`,
        )
        series.push({ device: d, metric: m.metric, unit: r.unit, points: r.points.filter((p): p is Point => typeof p.value === 'number') })
      }
      const alerts = await loadStationAlerts(station, id)
      return { station, name: station?.name ?? own[0]!.name, series, alerts, from, to }
    })().then(
      (v) => current && (setView(v), setError(null)),
      (err: unknown) => current && setError(loadFailureText(t, err, t('station.notFound'))),
    )
    return () => {
      current = false
    }
  }, [id, range])

  const back = (
    <AppLink class="back" href="/stations">
      {t('station.back')}
    </AppLink>
  )
  return (
    <section class="alert-page station-page" aria-labelledby="station-heading">
      {back}
      <h1 id="station-heading">{view?.name ?? t('stations.station')}</h1>
      <ErrorText message={error} />
      {view && (
        <>
          <ul class="facts">
            {view.station?.river && <li>{view.station.river}</li>}
            {view.station?.district && <li>{view.station.district}</li>}
            {view.station?.levels.map(
              (l) =>
                l.value !== null && (
                  <li key={l.level} title={lang === 'vi' ? l.name_vi : l.name_en}>
                    {t('station.levelLine', { level: l.level, value: formatNumber(lang, l.value) })}
                    {l.to_confirm ? ` (${t('station.toConfirm')})` : ''}
                  </li>
                ),
            )}
          </ul>
          <div class="range" role="group" aria-label={t('station.range')}>
            {(['day', 'week'] as const).map((r) => (
              <button key={r} type="button" class={r === range ? '' : 'secondary'} aria-pressed={r === range} onClick={() => setRange(r)}>
                {t(`station.${r}`)}
              </button>
            ))}
          </div>
          {view.series.map((s) => (
            <figure key={s.device.id} class="chart-box">
              <figcaption>
                <h2>
                  {s.device.name} ({s.device.id})
                </h2>
                <Summary s={s} t={t} lang={lang} />
              </figcaption>
              {s.points.length === 0 && <p class="muted">{t('station.noData')}</p>}
              <StationChart
                label={t('station.chart', {
                  metric: t(`metric.${s.metric}` as 'metric.water_level'),
                  device: s.device.name,
                  range: t(`station.${range}`),
                })}
                points={s.points}
                levels={s.metric === 'water_level' ? (view.station?.levels ?? []) : []}
                alerts={view.alerts.filter((a) => !a.device || a.device === s.device.id)}
                from={view.from}
                to={view.to}
                unit={s.unit}
                narrow={narrow}
              />
            </figure>
          ))}
        </>
      )}
    </section>
  )
}

function Summary({ s, t, lang }: { s: Series; t: Translate; lang: 'vi' | 'en' }) {
  const last = s.points[s.points.length - 1]
  if (!last) return null
  const u = s.unit ? ` ${s.unit}` : ''
  const max = Math.max(...s.points.map((p) => p.value))
  return (
    <p class="muted">
      {t('station.latest', {
        value: `${formatNumber(lang, last.value)}${u}`,
        time: formatTime(lang, last.ts),
        max: `${formatNumber(lang, max)}${u}`,
      })}
    </p>
  )
}
