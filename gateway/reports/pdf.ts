import type { ReportDoc } from './document.ts'
import { reportFonts } from './fonts.ts'
import { labels } from './render-labels.ts'
import { contentWidth, drawBars, drawLineChart, drawTable, ensureSpace, FONT, left } from './pdf-draw.ts'
import { waterSeries, type SeriesDeps } from './series.ts'
import type { Lang, Report } from './types.ts'
import { reportDocument, type ViewOptions } from './view.ts'

// The situation report as a PDF (docs/reports.md, "PDF and printing"): built in the gateway's own
// process with pdfkit (no browser), A4 portrait, the Be Vietnam Pro font embedded (fonts.ts) so
// Vietnamese names print and copy intact, tables and vector charts from the same layout as the
// console's /reports page (view.ts).

export const PDF_TYPE = 'application/pdf'

export async function renderReportPdf(report: Report, lang: Lang, opts: ViewOptions = {}): Promise<Buffer> {
  return renderDocPdf(reportDocument(report, lang, opts), report.generated_at)
}

/**
 * The gateway's PDF renderer: the report in its own language, with each water-level station's
 * line read from the store (series.ts). This is what the report service's `renderReportPdf` takes,
 * for `format=pdf` on GET /api/v1/reports and for the daily report's file.
 */
export function reportPdfRenderer(deps: SeriesDeps): (report: Report) => Promise<Buffer> {
  return async (report) => renderReportPdf(report, report.lang, { series: await waterSeries(report, deps) })
}

export async function renderDocPdf(view: ReportDoc, generatedAt: string): Promise<Buffer> {
  // Imported on first use: pdfkit and its font tables cost ~25 MB of RSS, for a PDF a day or on request.
  const { default: PDFDocument } = await import('pdfkit')
  const fonts = reportFonts()
  const created = new Date(generatedAt)
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: 48, bottom: 54, left: 46, right: 46 },
    bufferPages: true,
    lang: view.lang === 'vi' ? 'vi-VN' : 'en-GB',
    displayTitle: true,
    info: {
      Title: view.title,
      Subject: view.meta.map((m) => `${m.label}: ${m.value}`).join('; '),
      Creator: 'ioc-gateway',
      ...(Number.isNaN(created.getTime()) ? {} : { CreationDate: created }),
    },
  })
  const chunks: Buffer[] = []
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c))
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })
  doc.registerFont(FONT.regular, fonts.regular)
  doc.registerFont(FONT.bold, fonts.bold)

  doc
    .font(FONT.bold)
    .fontSize(17)
    .fillColor('#111827')
    .text(view.title, { width: contentWidth(doc) })
  doc.moveDown(0.3)
  doc.fontSize(9.5)
  for (const m of view.meta) {
    doc.font(FONT.bold).text(`${m.label}: `, { continued: true }).font(FONT.regular).text(m.value)
  }
  doc.moveDown(0.6)

  for (const section of view.sections) {
    ensureSpace(doc, 90)
    doc
      .moveTo(left(doc), doc.y)
      .lineTo(left(doc) + contentWidth(doc), doc.y)
      .lineWidth(1)
      .strokeColor('#1f2937')
      .stroke()
    doc.moveDown(0.3)
    doc
      .font(FONT.bold)
      .fontSize(13)
      .fillColor('#111827')
      .text(section.heading, left(doc), doc.y, { width: contentWidth(doc) })
    doc.moveDown(0.4)
    for (const block of section.blocks) {
      if (block.kind === 'table') drawTable(doc, block)
      else if (block.kind === 'line') drawLineChart(doc, block)
      else if (block.kind === 'bars') drawBars(doc, block)
      else {
        ensureSpace(doc, 24)
        doc
          .font(FONT.regular)
          .fontSize(9.5)
          .fillColor('#111827')
          .text(block.text, left(doc), doc.y, { width: contentWidth(doc) })
        doc.moveDown(0.6)
      }
    }
  }
  if (view.footnotes.length) {
    ensureSpace(doc, 40)
    doc.moveDown(0.4)
    for (const f of view.footnotes) {
      doc
        .font(FONT.regular)
        .fontSize(7.5)
        .fillColor('#4b5563')
        .text(f, left(doc), doc.y, { width: contentWidth(doc) })
    }
  }

  // Page numbers and the title in every page's foot, once the page count is known.
  const t = labels(view.lang)
  const range = doc.bufferedPageRange()
  for (let i = 0; i < range.count; i++) {
    doc.switchToPage(range.start + i)
    const bottomMargin = doc.page.margins.bottom
    // Writing in the margin would otherwise start a new page.
    doc.page.margins.bottom = 0
    const y = doc.page.height - 34
    doc.font(FONT.regular).fontSize(7.5).fillColor('#6b7280')
    doc.text(view.title, left(doc), y, { width: contentWidth(doc) * 0.75, lineBreak: false, ellipsis: true })
    doc.text(t('page', { n: i + 1, total: range.count }), left(doc), y, { width: contentWidth(doc), align: 'right', lineBreak: false })
    doc.page.margins.bottom = bottomMargin
  }
  doc.end()
  return done
}

/** True when the request asks for the PDF: `format=pdf`, or an Accept header preferring it. */
export function wantsPdf(format: string | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'pdf'
  if (!accept) return false
  const types = accept.split(',').map((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    return { type: type!.trim(), q: q ? Number(q.slice(2)) : 1 }
  })
  const pdf = types.find((x) => x.type === PDF_TYPE)?.q ?? 0
  const json = Math.max(
    0,
    ...types.filter((x) => x.type === 'application/json' || x.type === '*/*' || x.type === 'application/*').map((x) => x.q),
  )
  return pdf > 0 && pdf >= json
}
