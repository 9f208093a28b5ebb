import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { snapshotUrl, total, VEHICLES, type Detection } from '../cameras.ts'
import { formatNumber, formatTime, useI18n } from '../i18n.ts'
import type { Key } from '../strings.ts'

/**
 * The camera's latest analysed frame (GET /cameras/:id/snapshot, boxes and zone outlines drawn by
 * the gateway), fetched again whenever a newer detection is seen. The session cookie authorises
 * the image like any same-origin request. `children` lies over the picture (the zone editor).
 */
export function Snapshot({ id, name, ts, children }: { id: string; name: string; ts: string | undefined; children?: ComponentChildren }) {
  const { t } = useI18n()
  const [failed, setFailed] = useState(false)
  useEffect(() => setFailed(false), [ts])
  if (failed) return <p class="snap snap-none">{t('camera.noFrame')}</p>
  return (
    <div class="snap">
      <img src={snapshotUrl(id, ts)} alt={t('camera.snapshotAlt', { name })} onError={() => setFailed(true)} />
      {children}
    </div>
  )
}

const percent = (lang: 'vi' | 'en', ratio: number) => formatNumber(lang, Math.round(ratio * 1000) / 10)

/** Per-zone counts, occupancy and congestion of one detection, in words (never colour alone). */
export function ZoneCounts({ rec }: { rec: Detection }) {
  const { t, lang } = useI18n()
  return (
    <div class="zone-counts">
      <p class="muted">{t('camera.frameAt', { time: formatTime(lang, rec.ts) })}</p>
      <p>{t('camera.total', { count: total(rec.counts) })}</p>
      <ul class="zones">
        {(rec.zones ?? []).map((z) => {
          const level = Math.max(0, Math.min(3, z.congestion))
          const kinds = VEHICLES.filter((v) => z.counts[v] > 0).map((v) => `${z.counts[v]} ${t(`vehicle.${v}` as Key)}`)
          return (
            <li key={z.zone} data-zone={z.zone}>
              <strong class="zone-id">{z.zone}</strong>
              <span class="zone-total">{t('camera.vehicles', { count: total(z.counts) })}</span>
              {kinds.length > 0 && <span class="muted">({kinds.join(', ')})</span>}
              <span class={`cong cong-${level}`}>{t('camera.congestion', { level, label: t(`congestion.${level}` as Key) })}</span>
              <span class="muted">{t('camera.occupancy', { percent: percent(lang, z.occupancy) })}</span>
              {z.water_ratio !== undefined && <span>{t('camera.water', { percent: percent(lang, z.water_ratio) })}</span>}
            </li>
          )
        })}
      </ul>
    </div>
  )
}
