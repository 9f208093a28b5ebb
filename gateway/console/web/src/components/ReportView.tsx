import { valueRange, type BarChart, type DocTable, type LineChart, type ReportDoc } from '../../../../reports/document.ts'
import type { ComponentChildren } from 'preact'
import { useI18n } from '../i18n.ts'
import { useNarrow } from '../narrow.ts'
import { TableHead } from './Table.tsx'

// A situation report laid out by gateway/reports/view.ts, as HTML tables and SVG charts: the
// same headings, tables and charts as its PDF (docs/reports.md, "PDF and printing"). Each chart
// carries a text name that says what it shows; the tables beside them hold every figure.

export function ReportView({ doc }: { doc: ReportDoc }) {
  return (
    <article class="report" lang={doc.lang} aria-labelledby="report-title">
      <h2 id="report-title" class="report-title">
        {doc.title}
      </h2>
      <dl class="report-meta">
        {doc.meta.map((m) => (
          <div key={m.label}>
            <dt>{m.label}</dt>
            <dd>{m.value}</dd>
          </div>
        ))}
      </dl>
      {doc.sections.map((s) => (
        <section key={s.id} id={`report-${s.id}`} class="report-section" aria-labelledby={`report-${s.id}-h`}>
          <h3 id={`report-${s.id}-h`}>{s.heading}</h3>
          {s.blocks.map((b, i) =>
            b.kind === 'table' ? (
              <Table key={i} table={b} />
            ) : b.kind === 'bars' ? (
              <Bars key={i} chart={b} />
            ) : b.kind === 'line' ? (
              <Line key={i} chart={b} />
            ) : (
              <p key={i} class="report-note">
                {b.text}
              </p>
            ),
          )}
        </section>
      ))}
      <footer class="report-foot">
        {doc.footnotes.map((f) => (
          <p key={f}>{f}</p>
        ))}
      </footer>
    </article>
  )
}

function Table({ table }: { table: DocTable }) {
  if (table.rows.length === 0) return <p class="report-note">{table.empty}</p>
  return (
    // A wide table scrolls sideways on a phone: the region takes focus so a keyboard can scroll it.
    <div class="report-table" role="region" aria-label={table.caption} tabIndex={0}>
      <table>
        <caption>{table.caption}</caption>
        <TableHead columns={table.columns.map((c) => ({ label: c.label, class: c.align === 'right' ? 'num' : '' }))} />
        <tbody>
          {table.rows.map((r, i) => (
            <tr key={i}>
              {r.map((cell, j) =>
                j === 0 ? (
                  <th key={j} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={j} class={table.columns[j]?.align === 'right' ? 'num' : ''}>
                    {cell}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** The bar chart's drawing units: the name's column, a row's height, the bar within the row. */
const BAR_LAYOUT = {
  wide: { W: 1000, rowH: 26, labelW: 260, totalW: 90, barY: 3, barH: 17 },
  narrow: { W: 360, rowH: 42, labelW: 0, totalW: 64, barY: 18, barH: 18 },
}

function Bars({ chart }: { chart: BarChart }) {
  const { t } = useI18n()
  // A phone gets a narrower drawing with each name above its bar, so the text stays readable
  // once the drawing is scaled to the screen.
  const narrow = useNarrow()
  const { W, rowH, labelW, totalW, barY, barH } = BAR_LAYOUT[narrow ? 'narrow' : 'wide']
  const barL = narrow ? 0 : labelW + 8
  const barW = W - barL - totalW - 8
  const H = chart.rows.length * rowH + 6
  const max = Math.max(1e-9, ...chart.rows.map((r) => r.values.reduce((s, v) => s + v, 0)))
  const describe = chart.rows
    .map((r) => `${r.label}: ${r.values.map((v, i) => `${chart.legend[i]?.label ?? ''} ${chart.valueText(v)} ${chart.unit}`).join(', ')}`)
    .join('; ')
  const legend = (
    <ul class="report-legend" aria-hidden="true">
      {chart.legend.map((l) => (
        <li key={l.label}>
          <svg viewBox="0 0 10 10" width="12" height="12">
            <rect width="10" height="10" fill={l.color} stroke="#6b7280" stroke-width="0.6" />
          </svg>
          {l.label}
        </li>
      ))}
    </ul>
  )
  const label = t('reports.chartBars', { caption: chart.caption, rows: describe })
  return (
    <ChartFigure caption={chart.caption} svgClass="bars-chart" width={W} height={H} label={label} legend={legend}>
      {chart.rows.map((r, i) => {
        const y = i * rowH + 3
        let x = barL
        const sum = r.values.reduce((s, v) => s + v, 0)
        return (
          <g key={r.label + i}>
            {narrow ? (
              <text class="bar-label" x={0} y={y + 13}>
                {r.label}
              </text>
            ) : (
              <text class="bar-label" x={labelW} y={y + rowH / 2 + 2} text-anchor="end">
                {r.label}
              </text>
            )}
            {r.values.map((v, j) => {
              const w = (v / max) * barW
              const rect =
                w > 0.2 ? <rect key={j} x={x} y={y + barY} width={w} height={barH} fill={chart.legend[j]?.color ?? '#999'} /> : null
              x += w
              return rect
            })}
            <rect class="bar-frame" x={barL} y={y + barY} width={barW} height={barH} />
            <text class="bar-total" x={barL + barW + 6} y={y + barY + barH - 4}>{`${chart.valueText(sum)} ${chart.unit}`}</text>
          </g>
        )
      })}
    </ChartFigure>
  )
}

function Line({ chart }: { chart: LineChart }) {
  const { t } = useI18n()
  const narrow = useNarrow()
  const W = narrow ? 500 : 1000
  const H = narrow ? 330 : 300
  const L = 64
  const R = 50
  const T = 26
  const B = 34
  const { lo, hi } = valueRange(chart)
  const x = (ms: number) => L + ((ms - chart.from) / (chart.to - chart.from)) * (W - L - R)
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B)
  const pts = chart.points.filter((p) => p.t >= chart.from && p.t <= chart.to)
  const path = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')
  const peak = pts.reduce((m, p) => (p.v > m.v ? p : m), pts[0] ?? { t: chart.from, v: 0 })
  const peakTick = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh',
    day: '2-digit',
    month: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
    .format(peak.t)
    .replace(',', '')
  const label = t('reports.chartLine', { caption: chart.caption, max: chart.valueText(peak.v), time: peakTick })
  return (
    <ChartFigure caption={chart.caption} svgClass="station-chart" width={W} height={H} label={label}>
      <rect class="chart-bg" x={L} y={T} width={W - L - R} height={H - T - B} />
      {Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4).map((v) => (
        <g key={v}>
          <line class="grid" x1={L} x2={W - R} y1={y(v)} y2={y(v)} />
          <text class="axis" x={L - 6} y={y(v) + 4} text-anchor="end">
            {chart.valueText(Number(v.toFixed(2)))}
          </text>
        </g>
      ))}
      {chart.ticks
        .filter((_, i) => !narrow || i % 2 === 0)
        .map((tk) => (
          <text
            key={tk.t}
            class="axis"
            x={x(tk.t)}
            y={H - 10}
            text-anchor={tk.t === chart.from ? 'start' : tk.t === chart.to ? 'end' : 'middle'}
          >
            {tk.text}
          </text>
        ))}
      {chart.lines.map((l) => (
        <g key={l.label} class={`level-line lvl-${l.tone}`}>
          <line x1={L} x2={W - R} y1={y(l.value)} y2={y(l.value)} />
          <text x={W - R + 4} y={y(l.value) + 4}>
            {l.label}
          </text>
        </g>
      ))}
      {path && <path class="series" d={path} />}
      <text class="axis unit" x={L - 6} y={T - 10} text-anchor="end">
        {chart.unit}
      </text>
    </ChartFigure>
  )
}

/** A report chart: its caption, an optional legend, and the drawing, named for a screen reader by `label`. */
function ChartFigure({
  caption,
  svgClass,
  width,
  height,
  label,
  legend,
  children,
}: {
  caption: string
  svgClass: string
  width: number
  height: number
  label: string
  legend?: ComponentChildren
  children: ComponentChildren
}) {
  return (
    <figure class="report-chart">
      <figcaption>{caption}</figcaption>
      {legend}
      <svg class={svgClass} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        {children}
      </svg>
    </figure>
  )
}
