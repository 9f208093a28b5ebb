// A situation report laid out for people (docs/reports.md, "PDF and printing"): headings, tables
// and charts with every label and figure already written in the reader's language. The PDF
// (pdf.ts) and the console's /reports page both draw this one shape, so what a leader prints from
// the browser and what they download say the same thing. Pure data: no Node and no DOM here, the
// console's bundle imports it.

export interface ReportDoc {
  lang: 'vi' | 'en'
  title: string
  /** Period, scope, generated-at: label and value pairs under the title. */
  meta: Array<{ label: string; value: string }>
  sections: DocSection[]
  /** Small print at the end of the report (sources, legal basis). */
  footnotes: string[]
}

export interface DocSection {
  /** Stable id (water, rain, air, traffic, alerts, notify): the page's anchors and tests use it. */
  id: string
  heading: string
  blocks: DocBlock[]
}

export type DocBlock = DocTable | LineChart | BarChart | DocNote

export interface DocColumn {
  label: string
  /** Figures align right so their digits line up; names align left. */
  align: 'left' | 'right'
  /** Relative width; the table shares the page width in these proportions. */
  weight: number
}

/** A column of names or text. */
export const left = (label: string, weight: number): DocColumn => ({ label, align: 'left', weight })
/** A column of figures. */
export const right = (label: string, weight: number): DocColumn => ({ label, align: 'right', weight })

export interface DocTable {
  kind: 'table'
  caption: string
  columns: DocColumn[]
  rows: string[][]
  /** Said instead of the table when it has no row. */
  empty: string
}

/** A value over time with horizontal reference lines (the station's alarm levels). */
export interface LineChart {
  kind: 'line'
  caption: string
  unit: string
  from: number
  to: number
  points: Array<{ t: number; v: number }>
  lines: Array<{ label: string; value: number; /** 1, 2, 3: the alarm level's colour */ tone: number }>
  /** Axis labels, already formatted: [ms, text]. */
  ticks: Array<{ t: number; text: string }>
  /** Formats a value on the vertical axis in the report's language. */
  valueText: (v: number) => string
}

/**
 * The vertical range of a line chart, its values and reference lines with a margin, so that a level
 * line at the edge still shows; the console's SVG and the PDF draw the same range.
 */
export function valueRange(chart: LineChart): { lo: number; hi: number } {
  const values = [...chart.points.map((p) => p.v), ...chart.lines.map((l) => l.value)]
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  const pad = Math.max((hi - lo) * 0.08, 0.1)
  return { lo: lo - pad, hi: hi + pad }
}

/** Horizontal stacked bars: one row per station or camera, a segment per band or level. */
export interface BarChart {
  kind: 'bars'
  caption: string
  /** The bands in order, with their colour (CSS hex) and name. */
  legend: Array<{ label: string; color: string }>
  rows: Array<{ label: string; values: number[] }>
  /** The unit of the values (h), written after the total of each row. */
  unit: string
  valueText: (v: number) => string
}

export interface DocNote {
  kind: 'note'
  text: string
}
