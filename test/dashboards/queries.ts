import type { Static } from 'typebox'
import type { DashboardJson, PanelSchema } from '../../dashboards/schema.ts'

export type PanelJson = Static<typeof PanelSchema>
type Panel = PanelJson

/** Every panel, rows flattened; rows themselves included when asked (typed loosely for that). */
export function allPanels(board: DashboardJson, withRows: true): Array<PanelJson & { type: string }>
export function allPanels(board: DashboardJson, withRows?: false): PanelJson[]
export function allPanels(board: DashboardJson, withRows = false): PanelJson[] {
  const out: PanelJson[] = []
  for (const p of board.panels) {
    if (p.type === 'row') {
      if (withRows) out.push(p as unknown as PanelJson)
      out.push(...p.panels)
    } else out.push(p)
  }
  return out
}

export interface BoardQuery {
  /** Where the query sits, for messages. */
  where: string
  kind: 'panel' | 'variable' | 'annotation'
  query: string
  datasource: unknown
  /** For panels: the relative time override, e.g. "30d". */
  timeFrom?: string
  interval?: string
  repeat?: string
}

export function boardQueries(board: DashboardJson): BoardQuery[] {
  const out: BoardQuery[] = []
  for (const p of allPanels(board) as Panel[]) {
    for (const t of p.targets) {
      const q: BoardQuery = {
        where: `${board.uid} / ${p.title} / ${t.refId}`,
        kind: 'panel',
        query: t.query ?? '',
        datasource: t.datasource,
      }
      if (p.timeFrom) q.timeFrom = p.timeFrom
      if (p.interval) q.interval = p.interval
      if (p.repeat) q.repeat = p.repeat
      out.push(q)
    }
  }
  for (const v of board.templating.list) {
    if (v.type !== 'query') continue
    out.push({ where: `${board.uid} / $${v.name}`, kind: 'variable', query: String(v.query), datasource: v.datasource })
  }
  for (const a of board.annotations.list) {
    if (!a.target) continue
    out.push({
      where: `${board.uid} / annotation ${a.name}`,
      kind: 'annotation',
      query: a.target.query ?? '',
      datasource: a.target.datasource,
    })
  }
  return out
}
