import { MEASUREMENT_TAGS, type PointScan, type QueriedPoint, type ScanQuery, type TimeSeriesStore } from '../store/types.ts'
import { csvField, CHUNK_CHARS, csvRow, type CsvExport } from './csv.ts'
import { csvInWorker } from './in-worker.ts'

// Readings and detections as CSV, straight from the time-series store page by page. The rows are
// produced only as fast as the response drains (the consumer pulls the next chunk), so a year of
// readings costs one store page and one chunk of memory, not the year. When the store can describe
// its scan as data (PointScan.source), the rows are read and formatted in a worker thread
// (in-worker.ts, worker.ts): see there why.

export type PointsMeasurement = 'readings' | 'detections'

export async function pointsCsv(
  store: Pick<TimeSeriesStore, 'scan'>,
  q: ScanQuery & { measurement: PointsMeasurement },
): Promise<CsvExport> {
  const scan: PointScan = await store.scan(q)
  if (scan.source) return csvInWorker({ source: scan.source, measurement: q.measurement, fields: scan.fields })
  let rows = 0
  const chunks = csvChunks(scan.pages, q.measurement, scan.fields, (n) => (rows += n))
  return { chunks, rows: () => rows }
}

/** The CSV text of a scan's pages, in chunks of about CHUNK_CHARS; `counted` hears of the rows in each chunk. */
export async function* csvChunks(
  pages: AsyncIterable<QueriedPoint[]>,
  measurement: PointsMeasurement,
  fields: readonly string[],
  counted: (rows: number) => void,
): AsyncGenerator<string> {
  const tags = MEASUREMENT_TAGS[measurement]
  let buf = csvRow(['time', ...tags, ...fields])
  let rows = 0
  for await (const page of pages) {
    for (const p of page) {
      // Built by hand rather than through csvRow: this loop runs once per exported row.
      let line = new Date(p.ts).toISOString()
      for (const t of tags) line += `,${csvField(p.tags[t])}`
      for (const f of fields) line += `,${csvField(p.fields[f])}`
      buf += `${line}\r\n`
      rows++
      if (buf.length >= CHUNK_CHARS) {
        counted(rows)
        rows = 0
        yield buf
        buf = ''
      }
    }
  }
  counted(rows)
  if (buf.length > 0) yield buf
}
