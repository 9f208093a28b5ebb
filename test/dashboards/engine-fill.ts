import { createAlerting, type AlertPoint } from '../../gateway/alerts/engine.ts'
import type { Reading } from '../../gateway/bus/events.ts'
import { loadStations } from '../../gateway/ingest/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import type { DeviceKind } from '../../gateway/registry/types.ts'
import type { Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/services.ts'

// While the alert engine is not yet wired into `iocgw start`, the board test still wants the
// engine's own `alerts` points: this runs the real engine (createAlerting, config/rules.yaml,
// config/stations.yaml) in process over the readings the gateway stored, in event time, and writes
// the points it hands to `annotate` into InfluxDB.

const escTag = (s: string) => s.replace(/[ ,=\\]/g, (c) => `\\${c}`)
const escStr = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`

export function alertPointLine(p: AlertPoint): string {
  const tags = Object.entries(p.tags)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `,${escTag(k)}=${escTag(v)}`)
    .join('')
  const fields = Object.entries(p.fields)
    .map(([k, v]) => `${escTag(k)}=${typeof v === 'string' ? escStr(v) : String(v)}`)
    .join(',')
  return `${p.measurement}${tags} ${fields} ${p.ts}`
}

/** Runs the engine over every stored reading; answers how many alert points it wrote. */
export async function fillAlertsWithEngine(influxd: Influxd, db: string): Promise<number> {
  const dir = tempDir('iocgw-dash-alerts-')
  const points: AlertPoint[] = []
  const alerting = createAlerting({
    dataDir: dir.path,
    logger: createLogger('silent'),
    metrics: new Metrics(),
    stations: loadStations('config/stations.yaml'),
    rulesFile: 'config/rules.yaml',
    annotate: (p) => {
      points.push(p)
    },
    // Event time drives the rules; wall time only marks lateness.
    silenceCheckMs: 3_600_000,
  })
  try {
    const r = await influxd.query('SELECT * FROM "readings" ORDER BY time ASC', db)
    const s = r.results[0]?.series?.[0]
    if (!s) return 0
    const col = (name: string) => s.columns.indexOf(name)
    const [iDevice, iKind, iStation, iDistrict, iSeq, iDominant] = ['device', 'kind', 'station', 'district', 'seq', 'aqi_dominant'].map(col)
    const skip = new Set(['time', 'device', 'kind', 'station', 'district', 'seq', 'aqi_dominant'])
    for (const row of s.values) {
      const values: Record<string, number> = {}
      s.columns.forEach((c, i) => {
        if (!skip.has(c) && typeof row[i] === 'number') values[c] = row[i] as number
      })
      const reading: Reading = {
        device: String(row[iDevice!]),
        kind: String(row[iKind!]) as DeviceKind,
        station: (row[iStation!] as string | null) || null,
        district: (row[iDistrict!] as string | null) || null,
        ts: row[0] as number,
        seq: typeof row[iSeq!] === 'number' ? (row[iSeq!] as number) : null,
        values,
        late: false,
      }
      if (typeof row[iDominant!] === 'string') reading.aqi_dominant = row[iDominant!] as string
      alerting.handleReading(reading)
    }
    alerting.flush()
    // annotate runs after each change's commit, on a resolved promise.
    await new Promise((res) => setTimeout(res, 50))
    if (points.length) {
      const res = await fetch(`${influxd.url}/write?db=${db}&precision=ms`, { method: 'POST', body: points.map(alertPointLine).join('\n') })
      if (res.status !== 204) throw new Error(`writing alert points: HTTP ${res.status} ${await res.text()}`)
    }
    return points.length
  } finally {
    alerting.close()
    dir.remove()
  }
}
