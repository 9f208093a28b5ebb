import { useEffect, useState } from 'preact/hooks'
import { loadCamera, total, useCameraFeed, type Camera, type Detection } from '../cameras.ts'
import { Snapshot, ZoneCounts } from '../components/CameraView.tsx'
import { ZoneEditor } from '../components/ZoneEditor.tsx'
import { formatTime, useI18n } from '../i18n.ts'
import { AppLink } from '../components/AppLink.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { ScrollTable } from '../components/Table.tsx'
import { loadFailureText } from '../failure.ts'

/**
 * One camera: its latest analysed frame and counts, the vehicles over the last hour, and for
 * technicians and admins the zone editor (PUT /cameras/:id/config, docs/api.md "Cameras").
 */
export function CameraPage({ id, canEdit }: { id: string; canEdit: boolean }) {
  const { t } = useI18n()
  const [camera, setCamera] = useState<Camera | null>(null)
  const [error, setError] = useState<string | null>(null)
  const feed = useCameraFeed(id, 'hour')
  useEffect(() => {
    loadCamera(id).then(setCamera, (err: unknown) => setError(loadFailureText(t, err, t('camera.notFound'))))
  }, [id])
  const name = camera?.name ?? id
  const side = (
    <>
      <h2>{t('camera.latest')}</h2>
      <div aria-live="polite">
        {feed.latest ? <ZoneCounts rec={feed.latest} /> : feed.loaded && <p class="muted">{t('camera.noFrame')}</p>}
      </div>
      {feed.error && <p class="error">{t('error.server', { message: feed.error })}</p>}
    </>
  )
  return (
    <section class="camera-page" aria-labelledby="camera-heading">
      <AppLink class="back" href="/cameras">
        {t('camera.back')}
      </AppLink>
      <h1 id="camera-heading">{name}</h1>
      <ErrorText message={error} />
      {camera && (
        <>
          {canEdit ? (
            <ZoneEditor id={id} name={name} ts={feed.latest?.ts} side={side} />
          ) : (
            <div class="camera-top">
              <Snapshot id={id} name={name} ts={feed.latest?.ts} />
              <div class="camera-side">{side}</div>
            </div>
          )}
          <History records={feed.records} />
        </>
      )}
    </section>
  )
}

const W = 600
const H = 120

/** Vehicle totals over the hour as one polyline, and the last frames as a table. */
function History({ records }: { records: Detection[] }) {
  const { t, lang } = useI18n()
  if (!records.length) {
    return (
      <section aria-labelledby="history-h">
        <h2 id="history-h">{t('camera.history')}</h2>
        <p class="muted">{t('camera.historyEmpty')}</p>
      </section>
    )
  }
  const times = records.map((r) => Date.parse(r.ts))
  const t0 = times[0]!
  const span = Math.max(1, times[times.length - 1]! - t0)
  const max = Math.max(1, ...records.map((r) => total(r.counts)))
  const points = records.map((r, i) => `${((times[i]! - t0) / span) * W},${H - (total(r.counts) / max) * (H - 8) - 4}`).join(' ')
  const zones = [...new Set(records.flatMap((r) => (r.zones ?? []).map((z) => z.zone)))]
  const last = records.slice(-10).reverse()
  return (
    <section class="camera-history" aria-labelledby="history-h">
      <h2 id="history-h">{t('camera.history')}</h2>
      <svg
        class="chart"
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={t('camera.chart', {
          count: records.length,
          from: formatTime(lang, records[0]!.ts),
          to: formatTime(lang, records[records.length - 1]!.ts),
          max,
        })}
      >
        <polyline points={records.length === 1 ? `0,${H / 2} ${W},${H / 2}` : points} />
      </svg>
      <ScrollTable labelledBy="history-h" columns={[t('camera.time'), t('camera.all'), ...zones.map((z) => ({ key: z, label: z }))]}>
        {last.map((r) => (
          <tr key={r.ts}>
            <td data-label={t('camera.time')}>{formatTime(lang, r.ts)}</td>
            <td data-label={t('camera.all')}>{total(r.counts)}</td>
            {zones.map((z) => {
              const zr = r.zones?.find((x) => x.zone === z)
              return (
                <td key={z} data-label={z}>
                  {zr ? total(zr.counts) : ''}
                </td>
              )
            })}
          </tr>
        ))}
      </ScrollTable>
    </section>
  )
}
