import type PDFDocument from 'pdfkit'
import { valueRange, type BarChart, type DocTable, type LineChart } from './document.ts'

// Tables and charts drawn with pdfkit's vector operations on A4 (docs/reports.md, "PDF and
// printing"). A table breaks across pages between rows and repeats its header row on the next
// page; a chart never splits.

type Doc = InstanceType<typeof PDFDocument>

export const FONT = { regular: 'report-regular', bold: 'report-bold' } as const
const INK = '#111827'
const MUTED = '#4b5563'
const RULE = '#9ca3af'
const HEAD_BG = '#e5e7eb'
const PAD = 3

export const left = (doc: Doc) => doc.page.margins.left
export const contentWidth = (doc: Doc) => doc.page.width - doc.page.margins.left - doc.page.margins.right
const bottom = (doc: Doc) => doc.page.height - doc.page.margins.bottom

/** Starts a new page unless `height` more points fit on this one. */
export function ensureSpace(doc: Doc, height: number): void {
  if (doc.y + height > bottom(doc)) doc.addPage()
}

export function caption(doc: Doc, text: string): void {
  doc.font(FONT.bold).fontSize(9.5).fillColor(INK)
  doc.text(text, left(doc), doc.y, { width: contentWidth(doc) })
  doc.moveDown(0.25)
}

export function drawTable(doc: Doc, table: DocTable): void {
  const width = contentWidth(doc)
  const total = table.columns.reduce((s, c) => s + c.weight, 0)
  const widths = table.columns.map((c) => (c.weight / total) * width)
  const size = table.columns.length > 7 ? 7.5 : 8.5

  const rowHeight = (cells: string[], font: string) => {
    doc.font(font).fontSize(size)
    return Math.max(...cells.map((c, i) => doc.heightOfString(c, { width: widths[i]! - 2 * PAD }))) + 2 * PAD
  }
  const drawRow = (cells: string[], font: string, background?: string) => {
    const h = rowHeight(cells, font)
    const y = doc.y
    let x = left(doc)
    if (background) doc.rect(x, y, width, h).fill(background)
    doc.font(font).fontSize(size).fillColor(INK)
    cells.forEach((c, i) => {
      doc.text(c, x + PAD, y + PAD, { width: widths[i]! - 2 * PAD, align: table.columns[i]!.align })
      x += widths[i]!
    })
    doc
      .moveTo(left(doc), y + h)
      .lineTo(left(doc) + width, y + h)
      .lineWidth(0.4)
      .strokeColor(RULE)
      .stroke()
    doc.x = left(doc)
    doc.y = y + h
  }

  const header = table.columns.map((c) => c.label)
  // The caption, the header and a first row stay together.
  ensureSpace(doc, 16 + rowHeight(header, FONT.bold) + (table.rows[0] ? rowHeight(table.rows[0], FONT.regular) : 14))
  caption(doc, table.caption)
  if (table.rows.length === 0) {
    doc.font(FONT.regular).fontSize(9).fillColor(MUTED).text(table.empty, left(doc), doc.y, { width })
    doc.moveDown(0.8)
    return
  }
  drawRow(header, FONT.bold, HEAD_BG)
  for (const row of table.rows) {
    if (doc.y + rowHeight(row, FONT.regular) > bottom(doc)) {
      doc.addPage()
      drawRow(header, FONT.bold, HEAD_BG)
    }
    drawRow(row, FONT.regular)
  }
  doc.moveDown(0.8)
}

const LEVEL_TONES = ['#a16207', '#c2410c', '#b91c1c']

/** The series as a line with the station's alarm levels as labelled horizontal lines. */
export function drawLineChart(doc: Doc, chart: LineChart): void {
  const H = 170
  ensureSpace(doc, H + 30)
  caption(doc, chart.caption)
  const W = contentWidth(doc)
  const L = left(doc) + 44
  const R = left(doc) + W - 30
  const T = doc.y + 12
  const B = T + H - 28
  const { lo, hi } = valueRange(chart)
  const x = (ms: number) => L + ((ms - chart.from) / (chart.to - chart.from)) * (R - L)
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (B - T)

  doc.rect(L, T, R - L, B - T).fill('#f9fafb')
  doc.font(FONT.regular).fontSize(7).fillColor(MUTED)
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4
    doc.moveTo(L, y(v)).lineTo(R, y(v)).lineWidth(0.3).strokeColor('#d1d5db').stroke()
    doc.fillColor(MUTED).text(chart.valueText(Number(v.toFixed(2))), left(doc), y(v) - 3.5, { width: 40, align: 'right', lineBreak: false })
  }
  doc.text(chart.unit, left(doc), T - 11, { width: 40, align: 'right', lineBreak: false })
  for (const tick of chart.ticks) {
    const tx = x(tick.t)
    const align = tick.t === chart.from ? 'left' : tick.t === chart.to ? 'right' : 'center'
    const w = 60
    const at = align === 'left' ? tx : align === 'right' ? tx - w : tx - w / 2
    doc.fillColor(MUTED).text(tick.text, at, B + 4, { width: w, align, lineBreak: false })
  }
  for (const line of chart.lines) {
    const color = LEVEL_TONES[line.tone - 1] ?? INK
    doc.moveTo(L, y(line.value)).lineTo(R, y(line.value)).lineWidth(1).dash(4, { space: 3 }).strokeColor(color).stroke()
    doc.undash()
    doc
      .font(FONT.bold)
      .fontSize(7.5)
      .fillColor(color)
      .text(line.label, R + 3, y(line.value) - 4, { width: 26, lineBreak: false })
  }
  const pts = chart.points.filter((p) => p.t >= chart.from && p.t <= chart.to)
  if (pts.length > 1) {
    doc.moveTo(x(pts[0]!.t), y(pts[0]!.v))
    for (const p of pts.slice(1)) doc.lineTo(x(p.t), y(p.v))
    doc.lineWidth(1.4).strokeColor('#1d4ed8').stroke()
  }
  doc.x = left(doc)
  doc.y = B + 22
}

/** One horizontal stacked bar per row; the legend names each colour. */
export function drawBars(doc: Doc, chart: BarChart): void {
  const rowH = 14
  const legendH = 14
  ensureSpace(doc, 16 + legendH + Math.min(chart.rows.length, 4) * rowH + 8)
  caption(doc, chart.caption)
  const W = contentWidth(doc)
  const labelW = W * 0.28
  const totalW = 44
  const barL = left(doc) + labelW + 4
  const barW = W - labelW - 4 - totalW
  const max = Math.max(1e-9, ...chart.rows.map((r) => r.values.reduce((s, v) => s + v, 0)))

  // Legend: swatch and name, wrapping to the next line when the width runs out.
  let lx = left(doc)
  let ly = doc.y
  doc.font(FONT.regular).fontSize(7.5)
  for (const item of chart.legend) {
    const w = 12 + doc.widthOfString(item.label) + 10
    if (lx + w > left(doc) + W) {
      lx = left(doc)
      ly += 11
    }
    doc
      .rect(lx, ly + 1, 8, 8)
      .lineWidth(0.4)
      .fillAndStroke(item.color, RULE)
    doc.fillColor(INK).text(item.label, lx + 11, ly, { lineBreak: false })
    lx += w
  }
  doc.y = ly + legendH

  for (const row of chart.rows) {
    ensureSpace(doc, rowH)
    const y = doc.y
    doc
      .font(FONT.regular)
      .fontSize(8)
      .fillColor(INK)
      .text(row.label, left(doc), y + 2, { width: labelW, lineBreak: false, ellipsis: true })
    let bx = barL
    row.values.forEach((v, i) => {
      const w = (v / max) * barW
      if (w > 0.2) doc.rect(bx, y + 1, w, rowH - 4).fill(chart.legend[i]?.color ?? RULE)
      bx += w
    })
    doc
      .rect(barL, y + 1, barW, rowH - 4)
      .lineWidth(0.3)
      .strokeColor(RULE)
      .stroke()
    const sum = row.values.reduce((s, v) => s + v, 0)
    doc.fillColor(MUTED).text(`${chart.valueText(sum)} ${chart.unit}`, barL + barW + 3, y + 2, { width: totalW - 3, lineBreak: false })
    doc.x = left(doc)
    doc.y = y + rowH
  }
  doc.moveDown(0.8)
}
