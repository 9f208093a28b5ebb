import { useEffect, useMemo, useState } from 'preact/hooks'
import { formatNumber, formatTime, useI18n } from '../i18n.ts'
import { AppLink } from '../components/AppLink.tsx'
import { LoadState } from '../components/LoadState.tsx'
import { ScrollTable } from '../components/Table.tsx'
import { loadTiles } from '../settings.ts'
import {
  isSilent,
  levelOf,
  loadDevices,
  loadLatest,
  loadStations,
  mainMetric,
  type Device,
  type Latest,
  type Station,
} from '../stations.ts'
import type { TileSettings } from '../tiles.ts'
import { StationMap, type MapPlace } from './StationMap.tsx'

interface Row {
  key: string
  /** Where the row's link goes: its station, else the device itself. */
  href: string
  station: string
  device: Device | null
  district: string | null
  latest: Latest | undefined
  level: { cls: string; text: string } | null
}

const COLUMNS = ['station', 'district', 'value', 'level', 'state', 'battery', 'lastSeen'] as const

const RANK = (cls: string) => (cls.startsWith('lvl-') ? Number(cls.slice(4)) : cls.startsWith('aqi-') ? Number(cls.slice(4)) - 1 : -1)

/** Map and list of the stations and sensors the user may see, with their newest values. */
export function StationsPage() {
  const { t, lang } = useI18n()
  const [data, setData] = useState<{ stations: Station[]; devices: Device[]; latest: Latest[] } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [now, setNow] = useState(() => Date.now())
  const [tiles, setTiles] = useState<TileSettings | null>(null)
  useEffect(() => {
    let current = true
    loadTiles().then(
      (s) => current && setTiles(s),
      () => {},
    )
    const load = () => {
      Promise.all([loadStations(), loadDevices().catch(() => [] as Device[]), loadLatest()]).then(
        ([stations, devices, latest]) => {
          if (!current) return
          setData({ stations, devices, latest })
          setNow(Date.now())
          setError(null)
        },
        (err: Error) => current && setError(err.message),
      )
    }
    load()
    // Newest values every 30 s: a gauge reports every few minutes.
    const timer = setInterval(load, 30_000)
    return () => {
      current = false
      clearInterval(timer)
    }
  }, [])

  const rows = useMemo<Row[]>(() => {
    if (!data) return []
    const byStation = new Map(data.stations.map((s) => [s.id, s]))
    const latest = new Map(data.latest.map((l) => [l.device, l]))
    const out: Row[] = []
    for (const d of data.devices) {
      if (!mainMetric(d.kind)) continue
      const st = d.station ? byStation.get(d.station) : undefined
      const l = latest.get(d.id)
      out.push({
        key: d.id,
        href: `/stations/${st ? st.id : d.id}`,
        station: st?.name ?? d.station ?? d.name,
        device: d,
        district: d.district ?? st?.district ?? null,
        latest: l,
        level: levelOf(t, lang, d.kind, l?.values, st),
      })
    }
    for (const s of data.stations) {
      if (out.some((r) => r.device?.station === s.id)) continue
      out.push({
        key: `station-${s.id}`,
        href: `/stations/${s.id}`,
        station: s.name,
        device: null,
        district: s.district,
        latest: undefined,
        level: null,
      })
    }
    return out.sort((a, b) => a.station.localeCompare(b.station, 'vi') || a.key.localeCompare(b.key))
  }, [data, t, lang])

  const { places, unplaced } = useMemo(() => {
    const places: MapPlace[] = []
    const unplaced: string[] = []
    if (!data) return { places, unplaced }
    const worst = (list: Row[]) =>
      list.reduce<Row['level']>((w, r) => (r.level && (!w || RANK(r.level.cls) > RANK(w.cls)) ? r.level : w), null)
    for (const s of data.stations) {
      const lvl = worst(rows.filter((r) => r.device?.station === s.id))
      if (s.location) places.push({ id: s.id, name: s.name, ...s.location, cls: lvl?.cls ?? '', level: lvl?.text ?? '' })
      else unplaced.push(s.name)
    }
    // Sensors outside the stations file (air quality, rain) stand on the map by their own location.
    for (const r of rows) {
      const d = r.device
      if (!d || (d.station && data.stations.some((s) => s.id === d.station))) continue
      if (d.location) places.push({ id: d.id, name: d.name, ...d.location, cls: r.level?.cls ?? '', level: r.level?.text ?? '' })
      else unplaced.push(d.name)
    }
    return { places, unplaced }
  }, [data, rows])

  const fmt = (r: Row) => {
    const m = r.device ? mainMetric(r.device.kind) : null
    const v = m ? r.latest?.values[m.metric] : undefined
    return typeof v === 'number' ? `${formatNumber(lang, v)}${m?.unit ? ` ${m.unit}` : ''}` : '–'
  }

  return (
    <section class="stations-page" aria-labelledby="stations-heading">
      <h1 id="stations-heading">{t('stations.heading')}</h1>
      <LoadState
        items={data && rows}
        error={error && t('error.server', { message: error })}
        loading={t('stations.loading')}
        empty={t('stations.empty')}
      />
      {data && rows.length > 0 && (
        <div class="stations-grid">
          <figure class="map-box">
            <StationMap places={places} tiles={tiles} />
            <figcaption class="muted">
              {tiles ? t('stations.mapTiles') : t('stations.mapNote')}
              {tiles?.attribution && (
                <>
                  {' '}
                  <span class="attribution">{t('stations.attribution', { text: tiles.attribution })}</span>
                </>
              )}
              {unplaced.length > 0 && <> {t('stations.noLocation', { names: unplaced.join(', ') })}</>}
            </figcaption>
          </figure>
          <ScrollTable label={t('stations.list')} tableClass="stations-table" columns={COLUMNS.map((c) => t(`stations.${c}`))}>
            {rows.map((r) => {
              const battery = r.latest?.values.battery
              const silent = isSilent(r.latest?.ts, now)
              return (
                <tr key={r.key} data-row={r.key}>
                  <td data-label={t('stations.station')}>
                    <AppLink href={r.href}>{r.station}</AppLink>
                    {r.device && (
                      <span class="muted sub">
                        {r.device.name} ({r.device.id})
                      </span>
                    )}
                  </td>
                  <td data-label={t('stations.district')}>{r.district ?? '–'}</td>
                  <td data-label={t('stations.value')}>{fmt(r)}</td>
                  <td data-label={t('stations.level')}>{r.level ? <span class={`level-tag ${r.level.cls}`}>{r.level.text}</span> : '–'}</td>
                  <td data-label={t('stations.state')}>
                    {r.device ? (
                      <span class={silent ? 'state state-open' : 'state state-acknowledged'}>
                        {!r.latest ? t('stations.never') : silent ? t('stations.silent') : t('stations.online')}
                      </span>
                    ) : (
                      '–'
                    )}
                  </td>
                  <td data-label={t('stations.battery')}>{typeof battery === 'number' ? `${formatNumber(lang, battery)} V` : '–'}</td>
                  <td data-label={t('stations.lastSeen')}>{r.latest ? formatTime(lang, r.latest.ts) : '–'}</td>
                </tr>
              )
            })}
          </ScrollTable>
        </div>
      )}
    </section>
  )
}
