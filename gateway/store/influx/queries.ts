// The InfluxQL side of the InfluxDB store: the reads the API and the reports make. New queries go
// here, beside these, each one a method of its own.
import { sortPoints } from '../points.ts'
import {
  MAX_QUERY_POINTS,
  MAX_READINGS_POINTS,
  MEASUREMENT_TAGS,
  StoreError,
  type AggregateReadingsQuery,
  type FieldValue,
  type LatestFilter,
  type LatestReadings,
  type PointQuery,
  type PointScan,
  type ScanQuery,
  type QueriedPoint,
  type RawReadingsQuery,
  type ValuePoint,
} from '../types.ts'
import { influxQuery, type Row } from './client.ts'
export type { Row } from './client.ts'
import { ident, lit } from './line.ts'
import { influxScan, pickFields, pointsOf, type InfluxScanPlan } from './scan.ts'
import type { InfluxState } from './state.ts'

export class InfluxQueries {
  constructor(private readonly s: InfluxState) {}

  /**
   * A read waits for the spilled requests in flight when it starts: their writers were
   * acknowledged from the journal, and a reading acknowledged must be there to read. (Points in
   * the spool during an outage are not, as before.)
   */
  private async readYourWrites(): Promise<void> {
    if (this.s.spillsPending === 0) return
    const waits: Array<Promise<void>> = []
    for (const f of this.s.flights) if (f.spilled && f.state === 'flying') waits.push(new Promise((r) => (f.readers ??= []).push(r)))
    await Promise.all(waits)
  }

  async q(query: string, method: 'GET' | 'POST' = 'GET'): Promise<Row> {
    if (method === 'GET') await this.readYourWrites()
    return influxQuery(this.s.influx, this.s.database, query, method)
  }

  private timeCond(from: number, to: number): string {
    return `time >= ${Math.trunc(from)}ms AND time < ${Math.trunc(to)}ms`
  }

  private tagConds(where: Readonly<Record<string, string | undefined>>): string {
    return Object.entries(where)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => ` AND ${ident(k)} = ${lit(v)}`)
      .join('')
  }

  async readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    const limit = Math.min(q.limit, MAX_READINGS_POINTS)
    const r = await this.q(
      `SELECT ${ident(q.metric)} FROM ${ident('raw')}.${ident('readings')} WHERE ${this.timeCond(q.from, q.to)}${this.tagConds({ device: q.device })} ORDER BY time ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${limit}`,
    )
    return (r.series?.[0]?.values ?? []).filter((v) => v[1] !== null).map((v) => ({ ts: v[0] as number, value: v[1] as FieldValue }))
  }

  async aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    assertEvery(q.every)
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_READINGS_POINTS)
    const r = await this.q(
      `SELECT ${q.fn}(${ident(q.metric)}) FROM ${ident('raw')}.${ident('readings')} WHERE ${this.timeCond(q.from, q.to)}${this.tagConds({ device: q.device })} GROUP BY time(${q.every}ms) fill(none) LIMIT ${limit}`,
    )
    return (r.series?.[0]?.values ?? []).filter((v) => v[1] !== null).map((v) => ({ ts: v[0] as number, value: v[1] as FieldValue }))
  }

  async latest(filter: LatestFilter): Promise<LatestReadings[]> {
    const conds = this.tagConds({ kind: filter.kind, station: filter.station, device: filter.device }).replace(/^ AND /, '')
    const where = conds ? ` WHERE ${conds}` : ''
    const from = `${ident('raw')}.${ident(filter.measurement ?? 'readings')}`
    // Each field's own last value, and the newest point (for its time and tags).
    const [lasts, newest] = await Promise.all([
      this.q(`SELECT last(*) FROM ${from}${where} GROUP BY ${ident('device')}`),
      this.q(`SELECT * FROM ${from}${where} GROUP BY ${ident('device')} ORDER BY time DESC LIMIT 1`),
    ])
    const tagKeys = new Set<string>(MEASUREMENT_TAGS.readings)
    const items = new Map<string, LatestReadings>()
    for (const s of newest.series ?? []) {
      const device = s.tags?.device
      const row = s.values[0]
      if (!device || !row) continue
      const tags: Record<string, string> = { device }
      s.columns.forEach((c, i) => {
        if (tagKeys.has(c) && typeof row[i] === 'string' && row[i] !== '') tags[c] = row[i] as string
      })
      items.set(device, { device, tags, ts: row[0] as number, values: {} })
    }
    for (const s of lasts.series ?? []) {
      const item = s.tags?.device ? items.get(s.tags.device) : undefined
      const row = s.values[0]
      if (!item || !row) continue
      s.columns.forEach((c, i) => {
        if (!c.startsWith('last_') || row[i] === null) return
        const name = c.slice(5)
        if (name !== 'seq') item.values[name] = row[i] as FieldValue
      })
    }
    return [...items.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
  }

  async queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_QUERY_POINTS)
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    const from = `${ident('raw')}.${ident(q.measurement)}`
    const where = `WHERE ${this.timeCond(q.from, q.to)}${this.tagConds(q.where ?? {})}`
    const tagKeys = await this.tagKeys(q.measurement)
    if (q.every !== undefined || q.fn !== undefined) {
      if (q.every === undefined || q.fn === undefined) throw new StoreError('invalid', 'aggregation needs both every and fn')
      if (!q.fields || q.fields.length === 0) throw new StoreError('invalid', 'aggregation needs the list of fields')
      assertEvery(q.every)
      const select = q.fields.map((f) => `${q.fn}(${ident(f)}) AS ${ident(f)}`).join(', ')
      const groupBy = [`time(${q.every}ms)`, ...(q.groupBy ?? []).map(ident)].join(', ')
      const r = await this.q(`SELECT ${select} FROM ${from} ${where} GROUP BY ${groupBy} fill(none) ORDER BY time ${order} LIMIT ${limit}`)
      const out: QueriedPoint[] = []
      for (const s of r.series ?? []) {
        const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ''))
        for (const row of s.values) out.push({ ts: row[0] as number, tags: { ...tags }, fields: pickFields(s.columns, row, new Set()) })
      }
      return sortPoints(
        out.filter((p) => Object.keys(p.fields).length > 0),
        order,
      ).slice(0, limit)
    }
    const select = q.fields ? [...q.fields, ...tagKeys].map(ident).join(', ') : '*'
    return pointsOf(await this.q(`SELECT ${select} FROM ${from} ${where} ORDER BY time ${order} LIMIT ${limit}`), tagKeys)
  }

  async scan(q: ScanQuery): Promise<PointScan> {
    if (this.s.closed) throw new StoreError('closed', 'time-series store is closed')
    const from = `${ident('raw')}.${ident(q.measurement)}`
    const keys = await this.q(`SHOW FIELD KEYS FROM ${from}`)
    const fields = (keys.series?.[0]?.values ?? []).map((v) => String(v[0])).sort()
    const tagKeys = await this.tagKeys(q.measurement)
    let placeCond = ''
    if (q.places) {
      const ors = [
        ...q.places.stations.map((s) => `${ident('station')} = ${lit(s)}`),
        ...q.places.districts.map((d) => `${ident('district')} = ${lit(d)}`),
      ]
      placeCond = ` AND (${ors.length > 0 ? ors.join(' OR ') : 'false'})`
      if (ors.length === 0) return { fields, pages: (async function* () {})() }
    }
    const plan: InfluxScanPlan = {
      from,
      conds: `${this.tagConds(q.where ?? {})}${placeCond}`,
      tagKeys: [...tagKeys],
      start: q.from,
      end: q.to,
    }
    return {
      fields,
      pages: influxScan((query) => this.q(query), plan),
      source: { store: 'influx', url: this.s.url, requestTimeoutMs: this.s.opts.requestTimeoutMs ?? 10_000, plan },
    }
  }

  private async tagKeys(measurement: string): Promise<Set<string>> {
    const known = (MEASUREMENT_TAGS as Record<string, readonly string[]>)[measurement]
    if (known) return new Set(known)
    const r = await this.q(`SHOW TAG KEYS FROM ${ident(measurement)}`)
    return new Set((r.series?.[0]?.values ?? []).map((v) => v[0] as string))
  }
}

function assertEvery(every: number): void {
  if (!Number.isInteger(every) || every < 1) throw new StoreError('invalid', 'every must be a whole number of ms, at least 1')
}
