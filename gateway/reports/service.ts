import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Stations } from '../domain/stations.ts'
import type { Logger } from '../log/logger.ts'
import type { Scope } from '../registry/scope.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import { openAlertsDb, type SharedDb } from '../alerts/db.ts'
import { openNotifyDb } from '../notify/db.ts'
import type { AlertSources } from './alerts-section.ts'
import { buildReport } from './build.ts'
import type { ReportsConfig } from './config.ts'
import { DAY_MS, localDate, localDayStart } from './period.ts'
import type { Report, ReportRequest } from './types.ts'

/**
 * Renders a report as PDF (`format=pdf` and the daily report's PDF file): app.ts passes
 * reportPdfRenderer (pdf.ts), which draws each water-level station's line from the store.
 */
export type RenderReportPdf = (report: Report) => Promise<Buffer>

export interface ReportServiceOptions {
  store: Pick<TimeSeriesStore, 'summarize' | 'levelDurations' | 'backend'>
  stations: Stations
  dataDir: string
  /**
   * Where the alerts and their notifications are read: the gateway's alert store and outbox
   * (PostgreSQL in a cluster, docs/operations.md "Alerts in PostgreSQL"). Without it, alerts.db
   * in `dataDir`.
   */
  alertSources?: AlertSources | undefined
  config: ReportsConfig
  logger: Logger
  deviceName?: ((id: string) => Promise<string | undefined>) | undefined
  /** Announces the daily report's summary line to subscribed contacts (notifier.announce). */
  announce?: ((notice: { key: string; kind: string; text: string }) => number | Promise<number>) | undefined
  renderReportPdf: RenderReportPdf
  /** Told once the daily report's files are written (webhooks' `report.ready`). */
  onDailyReport?: ((ready: { date: string; file: string; summary: string; period: Report['period'] }) => void) | undefined
  now?: (() => number) | undefined
  /** How often the daily report checks whether it is due (default 60 s). */
  checkMs?: number | undefined
}

export interface ReportService {
  build(req: ReportRequest, scope: Scope | null): Promise<Report>
  readonly renderReportPdf: RenderReportPdf
  /**
   * Makes the daily report when it is due: past `reports.daily.hour` (local) and the previous
   * local day's file not written yet (so a gateway down at that hour catches up when it starts).
   * Answers the file written, or null.
   */
  runDaily(): Promise<string | null>
  start(): void
  close(): void
}

/** alerts.db with both migration lists applied; release() lets go of both references (close()). */
function alertsAndOutboxDb(dataDir: string): SharedDb {
  const outbox = openNotifyDb(dataDir)
  const alerts = openAlertsDb(dataDir)
  return {
    db: alerts.db,
    release() {
      alerts.release()
      outbox.release()
    },
  }
}

export function createReportService(opts: ReportServiceOptions): ReportService {
  const now = opts.now ?? Date.now
  const log = opts.logger.child({ component: 'reports' })
  const alertSources = opts.alertSources
  // The report reads the alerts and the outbox (notify's tables) of alerts.db: both migration
  // lists applied, so a data directory where no notifier ever ran reads as no notifications.
  const alertsShared = alertSources ? undefined : alertsAndOutboxDb(opts.dataDir)
  const alertsDb = alertsShared?.db
  const holdMaxMs = { sensors: opts.config.holdMaxS.sensors * 1000, cameras: opts.config.holdMaxS.cameras * 1000 }
  const dir = join(opts.dataDir, 'reports')
  let timer: NodeJS.Timeout | null = null
  let running: Promise<string | null> | null = null

  const build = (req: ReportRequest, scope: Scope | null) =>
    buildReport(
      {
        store: opts.store,
        stations: opts.stations,
        holdMaxMs,
        alertSources,
        alertsDb,
        backend: opts.store.backend,
        deviceName: opts.deviceName,
        now,
      },
      { req, scope },
    )

  async function daily(): Promise<string | null> {
    const t = now()
    const today = localDayStart(t)
    if (t < today + opts.config.daily.hour * 3_600_000) return null
    const from = today - DAY_MS
    const date = localDate(from)
    const file = join(dir, `${date}.json`)
    if (existsSync(file)) return null
    const report = await build({ from, to: today, lang: opts.config.daily.lang }, null)
    mkdirSync(dir, { recursive: true })
    try {
      writeAtomic(join(dir, `${date}.pdf`), await opts.renderReportPdf(report))
    } catch (err) {
      log.error({ err, date }, 'daily report: PDF rendering failed; the JSON is written')
    }
    // The JSON last: its presence marks the day as done.
    writeAtomic(file, JSON.stringify(report, null, 2))
    const line = report.lang === 'vi' ? report.summary : (await build({ from, to: today, lang: 'vi' }, null)).summary
    const queued = (await opts.announce?.({ key: `report:${date}`, kind: 'report', text: line })) ?? 0
    log.info({ date, file, announced: queued }, 'daily report written')
    opts.onDailyReport?.({ date, file, summary: line, period: report.period })
    return file
  }

  const service: ReportService = {
    build,
    renderReportPdf: opts.renderReportPdf,
    runDaily() {
      // One run at a time: a slow report is not started twice by the next check.
      running ??= daily().finally(() => (running = null))
      return running
    },
    start() {
      if (!opts.config.daily.enabled || timer) return
      const check = () =>
        void service.runDaily().catch((err: unknown) => log.error({ err }, 'daily report failed; retried at the next check'))
      timer = setInterval(check, opts.checkMs ?? 60_000)
      timer.unref()
      check()
    },
    close() {
      if (timer) clearInterval(timer)
      timer = null
      alertsShared?.release()
    },
  }
  return service
}

function writeAtomic(path: string, data: string | Buffer): void {
  writeFileSync(`${path}.tmp`, data)
  renameSync(`${path}.tmp`, path)
}
