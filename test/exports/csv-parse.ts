// A strict RFC 4180 reader for the tests (independent of gateway/exports/csv.ts): records end with
// CRLF, quoted fields may hold commas, CRLF and doubled quotes; anything else is an error.
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let i = 0
  while (i < text.length) {
    let field = ''
    if (text[i] === '"') {
      i++
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field')
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"'
            i += 2
            continue
          }
          i++
          break
        }
        field += text[i++]
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote at ${i}`)
        field += text[i++]
      }
    }
    row.push(field)
    if (text[i] === ',') {
      i++
      continue
    }
    if (text[i] === '\r' && text[i + 1] === '\n') {
      rows.push(row)
      row = []
      i += 2
      continue
    }
    if (i >= text.length) throw new Error('last record has no CRLF')
    throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`)
  }
  return rows
}

/** Rows as objects keyed by the header row. */
export function csvObjects(text: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text)
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])))
}
