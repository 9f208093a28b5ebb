// Plain aligned columns: readable in a terminal and in an SSH session on a field laptop.

/** Display width: precomposed Vietnamese letters count as one column each. */
function width(s: string): number {
  return [...s.normalize('NFC')].length
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - width(s)))
}

export function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-'
  if (Array.isArray(v)) return v.length ? v.map(cell).join(',') : '-'
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${cell(x)}`)
      .join(' ')
  return String(v).replace(/\s+/g, ' ')
}

/** Rows under a header line, columns separated by two spaces; `headers`: each column's key and header, in order. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, headers: Readonly<Record<string, string>>): string {
  const columns = Object.entries(headers).map(([key, header]) => ({ key, header }))
  const cells = rows.map((r) => columns.map((c) => cell(r[c.key]).normalize('NFC')))
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i] as string))))
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : pad(v, widths[i] as number)))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')
}

/** One record as "key: value" lines with the keys aligned. */
export function record(entries: ReadonlyArray<[string, unknown]>): string {
  const w = Math.max(...entries.map(([k]) => width(k)))
  return entries.map(([k, v]) => `${pad(`${k}:`, w + 1)} ${cell(v)}`).join('\n')
}
