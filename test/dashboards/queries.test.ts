import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBoards, serialize } from '../../dashboards/index.ts'
import type { DashboardJson } from '../../dashboards/schema.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { waitFor } from '../support/services.ts'
import { ADMIN_TOKEN, FIELD, startField, type RunningField } from './field.ts'
import { fillAlertsWithEngine, fillDetectionsWithVision } from './engine-fill.ts'
import { boardQueries, type BoardQuery } from './queries.ts'

// Every query of every board (panels, variables, annotations), with its variables and Grafana's
// macros filled in the way Grafana fills them, runs against a real influxd filled by the real
// gateway (`iocgw start` with IOC_INFLUX_URL, devices registered through the API, a replayed
// simulated field over MQTT, a live edge agent) and must answer a non-empty series.

const DB = 'ioc'
/** Measurements the gateway as wired today must fill by itself. */
const PIPELINE_MEASUREMENTS = ['readings', 'device_status', 'rejects'] as const
/**
 * Measurements of capabilities that may not be wired into `iocgw start` yet (alert engine, vision):
 * taken from the gateway when it writes them, else from the same capability run in process over
 * the gateway's stored readings and the shared sample photos, writing through the real InfluxDB
 * store; IOC_DASHBOARDS_REQUIRE_PIPELINE=1 makes the latter a failure.
 */
const OPTIONAL_MEASUREMENTS = ['alerts', 'detections'] as const

const ok = requireInfluxd()

/** Grafana's regex escaping of a variable value inside /^...$/ (InfluxDB data source). */
const escapeRegex = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/-]/g, '\\$&')

function parseRelative(rel: string): number {
  const m = /^(?:now-)?(\d+)([smhdwMy])$/.exec(rel)
  if (!m) throw new Error(`unsupported relative time ${rel}`)
  const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, M: 2.592e9, y: 3.1536e10 }[m[2] as 's']
  return Number(m[1]) * unit
}

interface Filled {
  sql: string
  from: number
  to: number
}

/** Fills $timeFilter and $__interval as Grafana does, and each variable with the given values. */
function fill(board: DashboardJson, q: BoardQuery, vars: Map<string, string[]>, now: number): Filled {
  const span = parseRelative(q.timeFrom ?? board.time.from)
  const from = now - span
  const to = now
  // Grafana: range / max data points (about the panel width), rounded, never below the panel's
  // min interval or the data source's (10s).
  const minInterval = q.interval ? parseRelative(q.interval) : 10_000
  const auto = Math.max(minInterval, Math.round(span / 1000 / 10_000) * 10_000)
  let sql = q.query
    .replaceAll('$timeFilter', `time >= ${from}ms and time <= ${to}ms`)
    .replaceAll('$__interval', `${Math.round(auto / 1000)}s`)
  for (const [name, values] of vars) {
    const chosen = q.repeat === name ? values.slice(0, 1) : values
    sql = sql.replaceAll(`/^$${name}$/`, `/^(${chosen.map(escapeRegex).join('|')})$/`)
    sql = sql.replaceAll(`$${name}`, chosen[0] ?? '')
  }
  return { sql, from, to }
}

type Series = { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }

function nonEmpty(series: Series[] | undefined): boolean {
  return (series ?? []).some((s) => s.values.some((row) => row.slice(1).some((v) => v !== null && v !== undefined)))
}

describe.skipIf(!ok)('board queries against InfluxDB filled by the gateway', () => {
  let influxd: Influxd
  let field: RunningField | undefined
  const filledBy = new Map<string, 'pipeline' | 'in process'>()

  const count = async (m: string): Promise<number> => {
    const r = await influxd.query(`SELECT count(*) FROM "${m}"`, DB)
    const row = r.results[0]?.series?.[0]?.values[0] ?? []
    return Math.max(0, ...row.slice(1).map((v) => Number(v) || 0))
  }

  beforeAll(async () => {
    influxd = await startInfluxd()
    field = await startField(influxd.urlFor(DB))
    try {
      // Every water-level and air-quality device's replayed history stored, the live agent seen,
      // the refused message counted.
      await waitFor(
        async () => {
          for (const d of FIELD.filter((x) => x.sim)) {
            const r = await influxd.query(`SELECT count("seq") FROM "readings" WHERE "device" = '${d.id}'`, DB)
            if (!((r.results[0]?.series?.[0]?.values[0]?.[1] as number) >= 100)) return false
          }
          for (const m of PIPELINE_MEASUREMENTS) if ((await count(m)) === 0) return false
          return true
        },
        60_000,
        250,
      )
    } catch (err) {
      throw new Error(`the gateway did not fill InfluxDB: ${String(err)}\n${field.gatewayLog()}`, { cause: err })
    }
    for (const m of PIPELINE_MEASUREMENTS) filledBy.set(m, 'pipeline')
    // Give the alert engine and vision (when wired) a moment to write what the field caused.
    const wired = await waitFor(async () => (await Promise.all(OPTIONAL_MEASUREMENTS.map(count))).every((n) => n > 0), 15_000, 250).catch(
      () => false,
    )
    for (const m of OPTIONAL_MEASUREMENTS) {
      if (wired || (await count(m)) > 0) {
        filledBy.set(m, 'pipeline')
        continue
      }
      if (process.env.IOC_DASHBOARDS_REQUIRE_PIPELINE === '1') throw new Error(`the gateway wrote no "${m}" points`)
      // The real capability, in process, writing through the real InfluxDB store.
      const written = m === 'alerts' ? await fillAlertsWithEngine(influxd, DB) : await fillDetectionsWithVision(influxd, DB, 'kim-long')
      const by = m === 'alerts' ? ['kind', 'state'] : ['camera', 'zone']
      const groups = await influxd.query(`SELECT count(*) FROM "${m}" GROUP BY ${by.map((t) => `"${t}"`).join(', ')}`, DB)
      const summary = (groups.results[0]?.series ?? [])
        .map((x) => `${by.map((t) => x.tags?.[t]).join('/')}=${Math.max(0, ...(x.values[0] ?? []).slice(1).map((v) => Number(v) || 0))}`)
        .join(' ')
      console.info(
        `[dashboards] ${m}: ${written} points from the ${m === 'alerts' ? 'alert engine' : 'vision pipeline'} run in process: ${summary}`,
      )
      expect(written, `the in-process ${m === 'alerts' ? 'alert engine' : 'vision pipeline'} wrote no "${m}" points`).toBeGreaterThan(0)
      filledBy.set(m, 'in process')
    }
    console.info(`[dashboards] measurements filled by: ${[...filledBy].map(([m, s]) => `${m}=${s}`).join(', ')}`)
  }, 180_000)

  afterAll(async () => {
    await field?.stop()
    await influxd?.remove()
  })

  it('the pipeline filled readings, device status and rejects', () => {
    for (const m of PIPELINE_MEASUREMENTS) expect(filledBy.get(m)).toBe('pipeline')
  })

  it('counts open alerts from the last change of each alert, with or without a level', async () => {
    const { LATEST_ALERTS } = await import('../../dashboards/boards/operations.ts')
    const window = `time >= ${Date.now() - 30 * 86_400_000}ms and time <= ${Date.now()}ms`
    const r = await influxd.query(
      `SELECT count("id") FROM (${LATEST_ALERTS.replace('$timeFilter', window)}) WHERE "state" != 'resolved'`,
      DB,
    )
    const open = r.results[0]?.series?.[0]?.values[0]?.[1] as number
    if (filledBy.get('alerts') === 'in process') {
      // The engine raised at least one alert over the flood, and the count is that of the
      // (rule, station, device) groups whose last change is not a resolution.
      const all = await influxd.query('SELECT "id", "state" FROM "alerts"', DB)
      const last = new Map<string, string>()
      for (const [, id, state] of all.results[0]?.series?.[0]?.values ?? []) last.set(String(id), String(state))
      expect(open).toBe([...last.values()].filter((st) => st !== 'resolved').length)
      expect(open).toBeGreaterThan(0)
    } else {
      // From the alert engine: the same number the gateway's alerts API lists as not resolved.
      let listed = 0
      for (const state of ['open', 'acknowledged']) {
        let cursor: string | null = null
        do {
          const q: string = `${field!.httpUrl}/api/v1/alerts?state=${state}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
          const res = await fetch(q, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
          expect(res.status).toBe(200)
          const body = (await res.json()) as { items: unknown[]; next: string | null }
          listed += body.items.length
          cursor = body.next
        } while (cursor)
      }
      expect(open).toBe(listed)
    }
  })

  const { boards } = buildBoards()
  for (const b of boards) {
    it(`${b.uid}: every query answers a non-empty series`, async () => {
      const board = JSON.parse(serialize(b.json)) as DashboardJson
      const now = Date.now()
      const queries = boardQueries(board)
      // Variables first, as Grafana does: their answers fill the panel queries.
      const vars = new Map<string, string[]>()
      for (const v of board.templating.list) {
        if (v.type === 'custom')
          vars.set(
            v.name,
            String(v.query)
              .split(',')
              .map((s) => s.trim()),
          )
        if (v.type !== 'query') continue
        const q = queries.find((x) => x.kind === 'variable' && x.where.endsWith(`$${v.name}`))!
        const { sql } = fill(board, q, vars, now)
        const r = await influxd.query(sql, DB)
        expect(r.results[0]?.error, `${q.where}: ${sql}`).toBeUndefined()
        const values = (r.results[0]?.series ?? []).flatMap((s) => s.values.map((row) => String(row[1])))
        expect(values.length, `${q.where} found no values: ${sql}`).toBeGreaterThan(0)
        vars.set(v.name, [...new Set(values)].sort())
      }
      const failures: string[] = []
      for (const q of queries.filter((x) => x.kind !== 'variable')) {
        const { sql } = fill(board, q, vars, now)
        const r = await influxd.query(sql, DB)
        const res = r.results[0]
        if (res?.error) failures.push(`${q.where}: error ${res.error}\n    ${sql}`)
        // Annotations mark alerts of one kind (congestion, AQI, silence): a field without such an
        // alert rightly shows none, so for them only a clean answer is required.
        else if (!nonEmpty(res?.series) && q.kind === 'panel') failures.push(`${q.where}: empty\n    ${sql}`)
        else if (!nonEmpty(res?.series)) console.info(`[dashboards] ${q.where}: no points (allowed for annotations)`)
      }
      expect(failures).toEqual([])
    })
  }
})
