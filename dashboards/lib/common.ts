import type { Builder } from '@grafana/grafana-foundation-sdk/cog'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import { INFLUX, influx, ident } from './influxql.ts'

/**
 * Schema version written into every board. 39 is understood by Grafana 10.4 and every 11.x, and
 * Grafana 12 migrates it forward on load, so one JSON serves the Grafana 11 and 12 the compose file
 * and operators run.
 */
export const SCHEMA_VERSION = 39

/** Tag shared by every board; the dashboard links of each board list the others through it. */
export const BOARD_TAG = 'ioc'

/** Local time of the operations centre (Huế, UTC+7). */
export const TIMEZONE = 'Asia/Ho_Chi_Minh'

/** Wraps a ready value where the SDK's builders take a builder. */
export function of<T>(value: T): Builder<T> {
  return { build: () => value }
}

/**
 * A stat panel of the boards' one kind: a big number per series, no sparkline, reduced by `calc`
 * over the range, coloured by its thresholds (on the text or, for the headline tiles, the tile).
 */
export function bigValue(colour: 'text' | 'tile', calc: 'lastNotNull' | 'sum' = 'lastNotNull'): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .colorMode(colour === 'tile' ? common.BigValueColorMode.Background : common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(of({ calcs: [calc], values: false, fields: '' }))
}

/**
 * Column titles for table panels, as displayName overrides matched by the query's field names.
 * Renaming in an `organize` transformation instead would change the names that the other
 * overrides and transformations of the panel match on.
 */
export function columnNames(
  names: Record<string, string>,
): Array<{ matcher: dashboard.MatcherConfig; properties: dashboard.DynamicConfigValue[] }> {
  return Object.entries(names).map(([name, title]) => ({
    matcher: { id: 'byName', options: name },
    properties: [{ id: 'displayName', value: title }],
  }))
}

/** Descriptions carry both languages: Vietnamese for officers first, English for integrators. */
export function bilingual(vi: string, en: string): string {
  return `${vi}\n\n${en}`
}

export interface BoardMeta {
  uid: string
  title: string
  vi: string
  en: string
  tags: string[]
  from?: string
}

export function newBoard(meta: BoardMeta): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(meta.title)
    .uid(meta.uid)
    .description(bilingual(meta.vi, meta.en))
    .tags([BOARD_TAG, ...meta.tags])
    .timezone(TIMEZONE)
    .time({ from: meta.from ?? 'now-24h', to: 'now' })
    .refresh('30s')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(
      new dashboard.DashboardLinkBuilder('Bảng khác / Other boards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([BOARD_TAG])
        .asDropdown(true)
        .keepTime(true)
        .includeVars(false)
        .targetBlank(false)
        .icon('external link')
        .tooltip('')
        .url(''),
    )
}

/** A query variable fed by `SHOW TAG VALUES`, multi-select with All. */
export function tagVariable(name: string, label: string, measurement: string, key: string, where?: string): dashboard.QueryVariableBuilder {
  const q = `SHOW TAG VALUES FROM ${ident(measurement)} WITH KEY = ${ident(key)}${where ? ` WHERE ${where}` : ''}`
  return (
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .datasource(INFLUX)
      .query(q)
      .definition(q)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      // All as `.*` rather than the list of values: a device or station that appeared after the
      // variable was last refreshed still shows.
      .allValue('.*')
      .current({ selected: true, text: ['All'], value: ['$__all'] })
  )
}

/**
 * Alerts as annotations: every change the alert engine wrote to the `alerts` measurement
 * (docs/data-model.md), with kind, severity and state as annotation tags.
 */
export function alertAnnotation(name: string, where: string, color: string): Builder<dashboard.AnnotationQuery> {
  const query = `SELECT "title", "text", "level", "kind", "severity", "state" FROM "alerts" WHERE ${where} AND $timeFilter`
  const target = influx(query, 'Anno').table().build()
  // Grafana's InfluxDB data source reads the column mapping beside the query (fromAnnotations);
  // older versions read the same keys on the annotation itself, so both carry them.
  const columns = { textColumn: 'text', titleColumn: 'title', tagsColumn: 'kind,severity,state' }
  Object.assign(target, { fromAnnotations: true, ...columns })
  const built: dashboard.AnnotationQuery = new dashboard.AnnotationQueryBuilder()
    .name(name)
    .datasource(INFLUX)
    .enable(true)
    .iconColor(color)
    .target({ build: () => target })
    .build()
  Object.assign(built, { query, ...columns })
  return { build: () => built }
}

/** Alarm level colours: below I green; I yellow, II orange, III red (rising danger, Decision 05/2020). */
export const ALARM_COLORS = ['green', 'yellow', 'orange', 'red'] as const

export function alarmLevelMappings(): dashboard.ValueMapping[] {
  const names = ['Dưới BĐ I / below I', 'Báo động I', 'Báo động II', 'Báo động III']
  const options: Record<string, dashboard.ValueMappingResult> = {}
  names.forEach((text, i) => {
    options[String(i)] = { text, color: ALARM_COLORS[i]!, index: i }
  })
  return [{ type: dashboard.MappingType.ValueToText, options }]
}

/** Thresholds drawn from a station's alarm levels; missing levels are left out. */
export function alarmThresholds(levels: readonly (number | null)[]): dashboard.ThresholdsConfig {
  const steps: dashboard.Threshold[] = [{ value: null, color: ALARM_COLORS[0] }]
  levels.forEach((v, i) => {
    if (typeof v === 'number') steps.push({ value: v, color: ALARM_COLORS[i + 1]! })
  })
  return { mode: dashboard.ThresholdsMode.Absolute, steps }
}

export function thresholds(steps: Array<[number | null, string]>): dashboard.ThresholdsConfig {
  return { mode: dashboard.ThresholdsMode.Absolute, steps: steps.map(([value, color]) => ({ value, color })) }
}

export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title)
}

/**
 * Gives panels ids in order and lays them out left to right, wrapping when a panel would cross the
 * 24-column grid (the SDK only wraps after the grid is already overrun). Rows start a new line.
 */
export function finalize(board: dashboard.Dashboard): dashboard.Dashboard {
  let id = 1
  let x = 0
  let y = 0
  let lineHeight = 0
  const newline = () => {
    y += lineHeight
    x = 0
    lineHeight = 0
  }
  const place = (p: dashboard.Panel | dashboard.RowPanel) => {
    const h = p.gridPos?.h ?? 8
    const w = Math.min(p.gridPos?.w ?? 12, 24)
    if (p.type === 'row') {
      newline()
      p.gridPos = { h: 1, w: 24, x: 0, y }
      y += 1
      return
    }
    if (x + w > 24) newline()
    p.gridPos = { h, w, x, y }
    x += w
    lineHeight = Math.max(lineHeight, h)
  }
  for (const p of board.panels ?? []) {
    p.id = id++
    place(p)
    if (p.type === 'row') {
      for (const inner of (p as dashboard.RowPanel).panels ?? []) {
        inner.id = id++
        place(inner)
      }
    }
  }
  // The SDK marks annotations and links for Grafana 12's controls menu; left out, every version
  // shows them in the dashboard's top bar where officers look for them.
  for (const a of board.annotations.list ?? []) delete a.placement
  for (const l of board.links ?? []) delete l.placement
  // Grafana's model always has the lists, even empty; the SDK omits them when nothing was added.
  board.templating.list ??= []
  board.annotations.list ??= []
  board.schemaVersion = SCHEMA_VERSION
  return board
}
