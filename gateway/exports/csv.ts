// CSV as RFC 4180 says: fields separated by commas, records ended by CRLF, a field holding a
// comma, a double quote, CR or LF enclosed in double quotes with its double quotes doubled
// (RFC 4180 §2, rules 1, 5-7). UTF-8, with the header row first (§2 rule 3; `header=present`).

/** An export on its way out: what the API streams and counts (gateway/api/routes/exports.ts). */
export interface CsvExport {
  /**
   * Chunks of CSV (UTF-8 bytes or text), the header first; stopping the iteration stops the store
   * scan. Bytes are lent, valid until the next call to `next()`: the consumer writes them out (or
   * copies them) before it asks for more.
   */
  chunks: AsyncGenerator<string | Uint8Array>
  /** Rows written so far (header not counted). */
  rows(): number
}

const NEEDS_QUOTES = /[",\r\n]/

export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'string' ? v : String(v)
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function csvRow(values: ReadonlyArray<string | number | boolean | null | undefined>): string {
  let out = ''
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + csvField(values[i])
  return `${out}\r\n`
}

/** Characters of CSV per chunk: big enough to cost little per write, small enough to keep memory flat. */
export const CHUNK_CHARS = 64 * 1024
