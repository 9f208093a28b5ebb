import type { Database as Db } from 'better-sqlite3'
import { airSection } from './air.ts'
import { sqliteAlertStore } from '../alerts/sqlite-store.ts'
import { sqliteOutbox } from '../notify/sqlite-outbox.ts'
import { alertsSection, type AlertSources } from './alerts-section.ts'
import { cameraSection } from './cameras.ts'
import { iso, type SectionContext } from './context.ts'
import { LABELS } from './labels.ts'
import { DAY_MS, localDay, localDayStart, localTime } from './period.ts'
import { rainSection } from './rain.ts'
import { REPORT_VERSION, type Report } from './types.ts'
import { waterSection } from './water.ts'

export interface ReportDeps extends Omit<SectionContext, 'req' | 'scope'> {
  /**
   * The alert store and the notification outbox the report reads (PostgreSQL in a cluster, so
   * every node's alerts are listed). Without them, `alertsDb`: this gateway's alerts.db.
   */
  alertSources?: AlertSources | undefined
  /** alerts.db (gateway/alerts/db.ts), read when `alertSources` is not given. */
  alertsDb?: Db | undefined
  backend: Report['store']
  now?: (() => number) | undefined
}

// One set of prepared statements per alerts.db connection.
const sqliteSources = new WeakMap<Db, AlertSources>()

function sourcesOf(deps: ReportDeps): AlertSources {
  if (deps.alertSources) return deps.alertSources
  const db = deps.alertsDb
  if (!db) throw new Error('reports: neither alertSources nor alertsDb given')
  let src = sqliteSources.get(db)
  if (!src) {
    src = { alerts: sqliteAlertStore(db), outbox: sqliteOutbox(db) }
    sqliteSources.set(db, src)
  }
  return src
}

/** Computes the report of docs/reports.md for one request, as the caller (scope) may see it. */
export async function buildReport(deps: ReportDeps, ctxIn: Pick<SectionContext, 'req' | 'scope'>): Promise<Report> {
  const ctx: SectionContext = { ...deps, ...ctxIn }
  const { req } = ctx
  const [water_levels, rainfall, air_quality, cameras] = await Promise.all([
    waterSection(ctx),
    rainSection(ctx),
    airSection(ctx),
    cameraSection(ctx),
  ])
  const alerts = await alertsSection(sourcesOf(deps), req, ctx.scope)
  const body = { water_levels, rainfall, air_quality, cameras, alerts }
  return {
    version: REPORT_VERSION,
    lang: req.lang,
    title: title(ctx),
    summary: summaryLine(ctx, body),
    generated_at: iso((deps.now ?? Date.now)()),
    period: {
      from: iso(req.from),
      to: iso(req.to),
      tz: 'Asia/Ho_Chi_Minh',
      hours: Math.round(((req.to - req.from) / 3_600_000) * 1000) / 1000,
    },
    filters: { ...(req.district ? { district: req.district } : {}), ...(req.station ? { station: req.station } : {}) },
    store: deps.backend,
    hold_max_s: { sensors: deps.holdMaxMs.sensors / 1000, cameras: deps.holdMaxMs.cameras / 1000 },
    ...body,
    labels: LABELS[req.lang],
  }
}

/** "03/12/2026" for a whole local day, "03/12/2026 – 05/12/2026" for whole days, times otherwise. */
function periodText(from: number, to: number): string {
  const wholeDays = localDayStart(from) === from && localDayStart(to) === to
  if (wholeDays && to - from === DAY_MS) return localDay(from)
  if (wholeDays) return `${localDay(from)} – ${localDay(to - DAY_MS)}`
  return `${localTime(from)} – ${localTime(to)}`
}

function place(ctx: SectionContext): string {
  const { req } = ctx
  if (req.station) return ctx.stations.get(req.station)?.name ?? req.station
  if (req.district) return req.district
  return ''
}

function title(ctx: SectionContext): string {
  const where = place(ctx)
  const when = periodText(ctx.req.from, ctx.req.to)
  return ctx.req.lang === 'vi'
    ? `Báo cáo tình hình ${when}${where ? ` – ${where}` : ''}`
    : `Situation report ${when}${where ? ` – ${where}` : ''}`
}

const num = (v: number, digits: number, lang: 'vi' | 'en') => {
  const s = v.toFixed(digits)
  return lang === 'vi' ? s.replace('.', ',') : s
}

/** One line for SMS and Zalo: the highest water, the wettest gauge, the worst air, the alerts. */
export function summaryLine(ctx: SectionContext, r: Pick<Report, 'water_levels' | 'rainfall' | 'air_quality' | 'alerts'>): string {
  const lang = ctx.req.lang
  const L = LABELS[lang]
  const parts: string[] = []
  // The station nearest its alarm levels first: highest level, then highest water.
  const water = [...r.water_levels]
    .filter((w) => w.max)
    .sort((a, b) => (b.max_level ?? -1) - (a.max_level ?? -1) || b.max!.value - a.max!.value)[0]
  if (water?.max) {
    const lvl = water.max_level ? ` (${L.levels[['below', 'I', 'II', 'III'][water.max_level]!]})` : ''
    const at = localTime(Date.parse(water.max.at), false)
    parts.push(
      lang === 'vi'
        ? `mực nước cao nhất ${water.name} ${num(water.max.value, 2, lang)} m${lvl} lúc ${at}`
        : `highest water ${water.name} ${num(water.max.value, 2, lang)} m${lvl} at ${at}`,
    )
  }
  const rain = [...r.rainfall].sort((a, b) => b.total_mm - a.total_mm)[0]
  if (rain)
    parts.push(
      lang === 'vi'
        ? `mưa nhiều nhất ${rain.name} ${num(rain.total_mm, 1, lang)} mm`
        : `most rain ${rain.name} ${num(rain.total_mm, 1, lang)} mm`,
    )
  const air = [...r.air_quality].filter((a) => a.max_aqi).sort((a, b) => b.max_aqi!.value - a.max_aqi!.value)[0]
  if (air?.max_aqi) {
    const band = Object.entries(air.hours_by_band)
      .filter(([, n]) => n > 0)
      .map(([k]) => k)
      .pop()
    parts.push(`VN_AQI ${lang === 'vi' ? 'cao nhất' : 'highest'} ${air.name} ${air.max_aqi.value}${band ? ` (${L.aqi_bands[band]})` : ''}`)
  }
  const a = r.alerts
  parts.push(
    lang === 'vi'
      ? `${a.opened} cảnh báo (${a.acknowledged.count} đã xác nhận, ${a.resolved.count} đã kết thúc)`
      : `${a.opened} alerts (${a.acknowledged.count} acknowledged, ${a.resolved.count} resolved)`,
  )
  const head = lang === 'vi' ? 'Báo cáo' : 'Report'
  const where = place(ctx)
  return `${head} ${periodText(ctx.req.from, ctx.req.to)}${where ? ` ${where}` : ''}: ${parts.join('; ')}.`
}
