import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { waterSeries } from '../../gateway/reports/series.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import { renderReportPdf, reportPdfRenderer, wantsPdf } from '../../gateway/reports/pdf.ts'
import { ROOT } from '../support/gateway-process.ts'
import { requireCommand, tempDir } from '../support/services.ts'
import { FROM, kimLongSeries, reportFixture } from './fixture.ts'

// The report's PDF (docs/reports.md, "PDF and printing"): read back with poppler's pdftotext,
// pdffonts and pdfinfo as a leader's PDF reader would, so the Vietnamese names, the figures in
// Vietnamese notation (2,15 m), the embedded font and the A4 page breaks are checked on the file
// itself.

const hasPoppler = requireCommand('pdftotext') && requireCommand('pdffonts') && requireCommand('pdfinfo')
const dir = tempDir('iocgw-pdf-')
afterAll(() => dir.remove())

function save(name: string, pdf: Buffer): string {
  const file = join(dir.path, name)
  writeFileSync(file, pdf)
  return file
}
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' })
/** Text in reading order with runs of white space made one space (table cells wrap). */
const text = (file: string) => run('pdftotext', ['-enc', 'UTF-8', file, '-']).replace(/\s+/g, ' ')

describe.runIf(hasPoppler)('report PDF', () => {
  it('holds the Vietnamese station names, titles and figures intact, in an embedded font', async () => {
    const pdf = await renderReportPdf(reportFixture('vi'), 'vi', { series: { 'kim-long': kimLongSeries() } })
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-')
    const file = save('vi.pdf', pdf)
    const out = text(file)

    // Every station of config/stations.yaml, by the name the file gives it.
    const names = Object.values(loadStations(join(ROOT, 'config', 'stations.yaml')).all()).map((s) => s.name)
    expect(names).toEqual(expect.arrayContaining(['Kim Long', 'Phú Ốc', 'Thượng Nhật']))
    for (const name of names) expect(out).toContain(name)

    for (const s of [
      'Báo cáo tình hình ngày 03/12/2026 – Thừa Thiên Huế',
      'Thời kỳ: 03/12/2026 00:00 – 04/12/2026 00:00', // UTC 17:00 is midnight in Huế
      'Kim Long ở mức báo động II', // the alert's title
      'Mực nước',
      'Lượng mưa',
      'Chất lượng không khí (VN_AQI)',
      'Giao thông (camera)',
      'Cảnh báo',
      'Thông báo đã gửi',
      'Ngã tư Lê Lợi – Hùng Vương',
      'Trạm không khí Phường Phú Hội',
      'A Lưới',
      // Who acknowledged and resolved (the cell wraps, so word by word).
      '12 phút, Nguyễn Thị',
      'Hương',
      '5,5 giờ, Trần Văn',
      'Đức',
      'Mức báo động theo Quyết định 05/2020/QĐ-TTg',
      'Trang 1/',
    ])
      expect(out).toContain(s)
    // Figures in Vietnamese notation: Kim Long's peak 2,15 m at 14:35 local time, rain 187,4 mm,
    // 58.930 motorcycles, a rise of 0,42 m/h.
    expect(out).toMatch(/Kim Long \(sông Hương\) 2,15 03\/12 14:35 ở mức báo động II 0,42/)
    expect(out).toContain('187,4')
    expect(out).toContain('58.930')
    expect(out).toContain('Thông báo: gửi được 12, lỗi 1, đang chờ 0.')

    const fonts = run('pdffonts', [file])
    expect(fonts).toMatch(/BeVietnamPro-Regular\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/)
    expect(fonts).toMatch(/BeVietnamPro-SemiBold\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/)
    const info = run('pdfinfo', [file])
    expect(info).toMatch(/Page size:\s+595\.28 x 841\.89 pts \(A4\)/)
    expect(info).toContain('Title:           Báo cáo tình hình ngày 03/12/2026 – Thừa Thiên Huế')
  })

  it('breaks a long table across A4 pages, repeating its header row, and numbers the pages', async () => {
    const file = save('long.pdf', await renderReportPdf(reportFixture('vi', { alerts: 120 }), 'vi'))
    const pages = Number(/Pages:\s+(\d+)/.exec(run('pdfinfo', [file]))![1])
    expect(pages).toBeGreaterThanOrEqual(5)
    const out = text(file)
    // The alerts table's header, once per page it spans; every alert present once.
    const headers = out.split('Xác nhận (sau, bởi)').length - 1
    expect(headers).toBeGreaterThanOrEqual(3)
    for (const n of [2, 60, 120]) expect(out).toContain(`Phú Ốc vượt báo động I (lần ${n})`)
    expect(out).toContain(`Trang ${pages}/${pages}`)
  })

  it('writes English labels and English figures, names kept in Vietnamese', async () => {
    const out = text(save('en.pdf', await renderReportPdf(reportFixture('en'), 'en')))
    for (const s of [
      'Situation report 03/12/2026 – Thừa Thiên Huế',
      'Water levels',
      'Rainfall',
      'Alerts opened in the period',
      'Phú Ốc',
      'Thượng Nhật',
      'at alarm level II',
      'Page 1/',
    ]) {
      expect(out).toContain(s)
    }
    expect(out).toContain('2.15')
    expect(out).toContain('58,930')
  })

  it("draws a station's water level from the store: hourly maxima of its gauge, with the alarm levels", async () => {
    const data = join(dir.path, 'store')
    const registry = openRegistry(data)
    const store = new SqliteTimeSeriesStore({ dataDir: data, logger: createLogger('silent'), metrics: new Metrics({ defaults: false }) })
    try {
      await registry.createDevice(
        { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' },
        { type: 'system', id: 'test' },
      )
      // Every 10 minutes over the day; the peak (2,15 m) sits inside the 14:00 hour, local time.
      const start = Date.parse(FROM)
      const points = Array.from({ length: 144 }, (_, i) => {
        const h = i / 6
        const v = h <= 14.5 ? 1.05 + (1.1 * h) / 14.5 : 2.15 - (0.8 * (h - 14.5)) / 9.5
        return {
          measurement: 'readings',
          tags: { device: 'kim-long-01', kind: 'water_level', station: 'kim-long' },
          fields: { water_level: Math.round(v * 100) / 100 },
          ts: start + i * 600_000,
        }
      })
      await store.write(points)
      const report = reportFixture('vi')
      const series = await waterSeries(report, { registry, store })
      expect(Object.keys(series)).toEqual(['kim-long'])
      expect(series['kim-long']).toHaveLength(24)
      expect(Math.max(...series['kim-long']!.map((p) => p.value))).toBe(2.15)
      // The renderer the report service is given reads the same series itself.
      const out = text(save('series.pdf', await reportPdfRenderer({ registry, store })(report)))
      expect(out).toContain('Mực nước tại Kim Long trong thời kỳ, với các mức báo động')
      expect(out).not.toContain('Mực nước tại Phú Ốc') // no gauge registered there
    } finally {
      await store.close()
      await registry.close()
    }
  })
})

describe('which requests want the PDF', () => {
  it('follows format=, else the Accept header', () => {
    expect(wantsPdf('pdf', undefined)).toBe(true)
    expect(wantsPdf('json', 'application/pdf')).toBe(false)
    expect(wantsPdf(undefined, 'application/pdf')).toBe(true)
    expect(wantsPdf(undefined, 'application/json')).toBe(false)
    expect(wantsPdf(undefined, '*/*')).toBe(false)
    expect(wantsPdf(undefined, undefined)).toBe(false)
    expect(wantsPdf(undefined, 'application/json;q=0.5, application/pdf')).toBe(true)
    expect(wantsPdf(undefined, 'application/pdf;q=0.2, application/json')).toBe(false)
  })
})
