import { MEASUREMENT_TAGS, type PointScan, type ScanQuery, type TimeSeriesStore } from '../store/types.ts'
import { csvField, CHUNK_BYTES, csvRow } from './csv.ts'

// Readings and detections as CSV, straight from the time-series store page by page. The rows are
// produced only as fast as the response drains (the consumer pulls the next chunk), so a year of
// readings costs one store page and one chunk of memory, not the year.

export interface CsvExport {
  /** Chunks of CSV text, the header first; stopping the iteration stops the store scan. */
  chunks: AsyncGenerator<string>
  /** Rows written so far (header not counted). */
  rows(): number
}

export async function pointsCsv(store: Pick<TimeSeriesStore, 'scan'>, q: ScanQuery & { measurement: 'readings' | 'detections' }): Promise<CsvExport> {
  const scan: PointScan = await store.scan(q)
  const tags = MEASUREMENT_TAGS[q.measurement]
  const fields = scan.fields
  let rows = 0
  async function* chunks(): AsyncGenerator<string> {
    let buf = csvRow(['time', ...tags, ...fields])
    for await (const page of scan.pages) {
      for (const p of page) {
        // Built by hand rather than through csvRow: this loop runs once per exported row.
        let line = new Date(p.ts).toISOString()
        for (const t of tags) line += `,${csvField(p.tags[t])}`
        for (const f of fields) line += `,${csvField(p.fields[f])}`
        buf += `${line}\r\n`
        rows++
        if (buf.length >= CHUNK_BYTES) {
          yield buf
          buf = ''
        }
      }
    }
    if (buf.length > 0) yield buf
  }
  return { chunks: chunks(), rows: () => rows }
}
