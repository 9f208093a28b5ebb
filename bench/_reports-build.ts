// Child of bench/reports.ts: opens one store on the data the parent wrote and builds the 30-day
// province report, then sends back the time it took and the process's peak RSS (its own, so the
// writing phase of the parent does not count).
import { stationsFrom } from '../gateway/domain/stations.ts'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import { ReportsSection, type ReportsConfig } from '../gateway/reports/config.ts'
import { reportPdfRenderer } from '../gateway/reports/pdf.ts'
import { createReportService } from '../gateway/reports/service.ts'
import { openTimeSeriesStore } from '../gateway/store/index.ts'
import Value from 'typebox/value'

const { BENCH_DATA_DIR: dataDir, BENCH_INFLUX_URL: influxUrl, BENCH_FROM: from, BENCH_TO: to } = process.env
const logger = createLogger('silent')
const store = await openTimeSeriesStore({
  influxUrl: influxUrl || undefined,
  dataDir: dataDir!,
  logger,
  metrics: new Metrics({ defaults: false }),
})
// Every bench station with alarm levels, so time at level is computed for all of them.
const stations = stationsFrom({
  stations: Object.fromEntries(
    Array.from({ length: Number(process.env.BENCH_STATIONS) }, (_, s) => {
      const id = `bench-st-${String(s).padStart(2, '0')}`
      return [id, { name: `Trạm ${s}`, levels: { I: 1.0, II: 2.0, III: 3.0 } }]
    }),
  ),
})
const reports = createReportService({
  store,
  stations,
  dataDir: dataDir!,
  config: Value.Default(ReportsSection, {}) as ReportsConfig,
  logger,
  // The bench times the JSON report only; the renderer is the gateway's, with no devices to draw.
  renderReportPdf: reportPdfRenderer({ registry: { listDevices: () => Promise.resolve({ items: [], next: null }) }, store }),
})
const t0 = performance.now()
const report = await reports.build({ from: Number(from), to: Number(to), lang: 'vi' }, null)
const ms = performance.now() - t0
process.send!({
  done: {
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    stations: report.water_levels.length,
    levels: report.water_levels.filter((w) => w.covered_s > 0).length,
    rain: report.rainfall.length,
    air: report.air_quality.length,
    summary: report.summary,
  },
})
await store.close()
process.exit(0)
