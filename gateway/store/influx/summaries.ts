import { levelDurationsOf } from '../level-durations.ts'
import { StoreError, type LevelDurations, type LevelDurationsQuery, type SummaryQuery, type SummaryRow } from '../types.ts'
import { ident, lit } from './line.ts'
import type { Row } from './queries.ts'

// Report summaries (gateway/store/types.ts) in InfluxQL over the `raw` retention policy. Sums,
// counts and selectors run in InfluxDB (GROUP BY time and tags); the hold rule of levelDurations
// needs each point's successor, which InfluxQL cannot give, so that one reads the single field and
// applies the rule here (level-durations.ts, the same rule the SQLite store runs in SQL).

type Query = (text: string) => Promise<Row>

function where(q: { from: number; to: number; where?: Readonly<Record<string, string>> | undefined }): string {
  const tags = Object.entries(q.where ?? {})
    .map(([k, v]) => ` AND ${ident(k)} = ${lit(v)}`)
    .join('')
  return `WHERE time >= ${Math.trunc(q.from)}ms AND time < ${Math.trunc(q.to)}ms${tags}`
}

const groupTags = (tags: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(tags ?? {}).filter(([, v]) => v !== ''))

export async function summarizeInflux(query: Query, q: SummaryQuery): Promise<SummaryRow[]> {
  if (q.every !== undefined && (!Number.isInteger(q.every) || q.every < 1))
    throw new StoreError('invalid', 'every must be a whole number of ms, at least 1')
  const groupBy = [...(q.every !== undefined ? [`time(${q.every}ms)`] : []), ...(q.groupBy ?? []).map(ident)]
  const r = await query(
    `SELECT ${q.fn}(${ident(q.field)}) FROM ${ident('raw')}.${ident(q.measurement)} ${where(q)}${groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''}${q.every !== undefined ? ' fill(none)' : ''}`,
  )
  const out: SummaryRow[] = []
  const aggregate = q.fn === 'sum' || q.fn === 'count'
  for (const s of r.series ?? []) {
    const tags = groupTags(s.tags)
    for (const row of s.values) {
      if (typeof row[1] !== 'number') continue
      out.push({ tags: { ...tags }, ts: q.every === undefined && aggregate ? q.from : (row[0] as number), value: row[1] })
    }
  }
  return out.sort((a, b) => a.ts - b.ts)
}

export async function levelDurationsInflux(query: Query, q: LevelDurationsQuery): Promise<LevelDurations[]> {
  const th = [...q.thresholds]
  for (let i = 0; i < th.length; i++) {
    if (!Number.isFinite(th[i]!) || (i > 0 && th[i]! <= th[i - 1]!)) throw new StoreError('invalid', 'thresholds must be finite and rise')
  }
  const groupBy = (q.groupBy ?? []).map(ident)
  const r = await query(
    `SELECT ${ident(q.field)} FROM ${ident('raw')}.${ident(q.measurement)} ${where(q)}${groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''} ORDER BY time ASC`,
  )
  const out: LevelDurations[] = []
  for (const s of r.series ?? []) {
    const points: Array<[number, number]> = []
    for (const row of s.values) if (typeof row[1] === 'number') points.push([row[0] as number, row[1]])
    if (points.length === 0) continue
    out.push({ tags: groupTags(s.tags), ...levelDurationsOf(points, th, q.holdMaxMs, q.to) })
  }
  return out
}
