import { useEffect, useMemo, useState } from 'preact/hooks'
import type { Report } from '../../../../reports/types.ts'
import { reportDocument, type WaterSeries } from '../../../../reports/view.ts'
import { ReportView } from '../components/ReportView.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { Field, SelectField } from '../components/Field.tsx'
import { ApiError } from '../api.ts'
import { useI18n } from '../i18n.ts'
import {
  loadReport,
  loadWaterSeries,
  parseLocal,
  PRESETS,
  presetRange,
  reportPdfUrl,
  toLocal,
  type Preset,
  type ReportQuery,
} from '../reports.ts'
import { loadDevices, loadStations, type Station } from '../stations.ts'

/**
 * The situation report for leaders (docs/console.md, "Reports"): pick a period and a place, read
 * the sections with their charts, print it (the print stylesheet leaves only the report) or
 * download the same report as a PDF from the same API route.
 */
export function ReportsPage() {
  const { t, lang } = useI18n()
  const [preset, setPreset] = useState<Preset>('today')
  const now = useMemo(() => Date.now(), [])
  const [customFrom, setCustomFrom] = useState(() => toLocal(presetRange('yesterday', now).from))
  const [customTo, setCustomTo] = useState(() => toLocal(presetRange('yesterday', now).to))
  const [district, setDistrict] = useState('')
  const [station, setStation] = useState('')
  const [stations, setStations] = useState<Station[]>([])
  const [districts, setDistricts] = useState<string[]>([])
  const [query, setQuery] = useState<ReportQuery | null>(null)
  const [report, setReport] = useState<{ report: Report; series: WaterSeries } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    Promise.all([loadStations(), loadDevices()]).then(
      ([st, devices]) => {
        setStations(st)
        const names = new Set<string>()
        for (const s of st) if (s.district) names.add(s.district)
        for (const d of devices) if (d.district) names.add(d.district)
        setDistricts([...names].sort((a, b) => a.localeCompare(b, 'vi')))
      },
      () => {
        /* the filters stay at "All"; the report itself says what went wrong */
      },
    )
  }, [])

  const build = (): ReportQuery | null => {
    const range = preset === 'custom' ? { from: parseLocal(customFrom), to: parseLocal(customTo) } : presetRange(preset, Date.now())
    if (!(range.to > range.from)) {
      setError(t('reports.badRange'))
      return null
    }
    return { ...range, district, station, lang }
  }

  useEffect(() => {
    const q = build()
    if (q) setQuery(q)
  }, [])
  // The report's words come from the server in its language: ask again when the language changes.
  useEffect(() => {
    if (query && query.lang !== lang) setQuery({ ...query, lang })
  }, [lang])

  useEffect(() => {
    if (!query) return
    let current = true
    setBusy(true)
    ;(async () => {
      const r = await loadReport(query)
      const series = r.water_levels.length
        ? await loadWaterSeries(r, stations.length ? stations : await loadStations()).catch(() => ({}))
        : {}
      return { report: r, series }
    })()
      .then(
        (v) => {
          if (!current) return
          setReport(v)
          setError(null)
        },
        (err: unknown) => {
          if (!current) return
          setReport(null)
          setError(err instanceof ApiError ? t('error.server', { message: err.message }) : String(err))
        },
      )
      .finally(() => current && setBusy(false))
    return () => {
      current = false
    }
  }, [query])

  const doc = useMemo(() => (report ? reportDocument(report.report, lang, { series: report.series }) : null), [report, lang])

  return (
    <section class="reports-page" aria-labelledby="reports-heading">
      <div class="report-controls">
        <h1 id="reports-heading">{t('reports.heading')}</h1>
        <p class="muted">{t('reports.intro')}</p>
        <form
          class="report-form"
          onSubmit={(e) => {
            e.preventDefault()
            const q = build()
            if (q) {
              setError(null)
              setQuery(q)
            }
          }}
        >
          <SelectField
            id="report-period"
            label={t('reports.period')}
            value={preset}
            options={PRESETS.map((p) => ({ value: p, label: t(`reports.${p}`) }))}
            onChange={(v) => setPreset(v as Preset)}
          />
          {preset === 'custom' &&
            (
              [
                ['from', customFrom, setCustomFrom],
                ['to', customTo, setCustomTo],
              ] as const
            ).map(([k, value, set]) => (
              <Field key={k} id={`report-${k}`} label={t(`reports.${k}`)}>
                <input id={`report-${k}`} type="datetime-local" value={value} required onInput={(e) => set(e.currentTarget.value)} />
              </Field>
            ))}
          <SelectField
            id="report-district"
            label={t('reports.district')}
            all={t('reports.all')}
            value={district}
            options={districts.map((d) => ({ value: d, label: d }))}
            onChange={setDistrict}
          />
          <SelectField
            id="report-station"
            label={t('reports.station')}
            all={t('reports.all')}
            value={station}
            options={stations.filter((s) => !district || s.district === district).map((s) => ({ value: s.id, label: s.name }))}
            onChange={setStation}
          />
          <button type="submit">{t('reports.show')}</button>
        </form>
        {query && report && (
          <div class="report-actions">
            <button type="button" class="secondary" onClick={() => window.print()}>
              {t('reports.print')}
            </button>
            <a class="button" href={reportPdfUrl(query)} download>
              {t('reports.pdf')}
            </a>
          </div>
        )}
        <ErrorText message={error} />
        {busy && (
          <p class="muted" role="status">
            {t('reports.loading')}
          </p>
        )}
        {doc && (
          <nav class="report-toc" aria-label={t('reports.sections')}>
            {doc.sections.map((s) => (
              <a key={s.id} href={`#report-${s.id}`}>
                {s.heading}
              </a>
            ))}
          </nav>
        )}
      </div>
      {doc && <ReportView doc={doc} />}
    </section>
  )
}
