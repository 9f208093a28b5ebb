import type { Report } from './types.ts'

// A flat CSV of the report (RFC 4180, UTF-8 with BOM so spreadsheet programs read the diacritics):
// one row per figure, columns section, subject, name, figure, value, at. Figures keep the JSON's
// machine keys (e.g. time_at_level_s.II); values are in the JSON's units.

const cell = (v: string | number | null | undefined): string => {
  if (v === null || v === undefined) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function reportCsv(r: Report): string {
  const rows: Array<Array<string | number | null | undefined>> = [['section', 'subject', 'name', 'figure', 'value', 'at']]
  const add = (section: string, subject: string, name: string, figure: string, value: string | number | null | undefined, at?: string) =>
    rows.push([section, subject, name, figure, value, at])
  const flat = (section: string, subject: string, name: string, obj: Record<string, unknown>, prefix = '') => {
    for (const [k, v] of Object.entries(obj)) {
      if (['station', 'camera', 'name', 'id'].includes(k) && prefix === '') continue
      const key = prefix + k
      if (v === null || v === undefined) add(section, subject, name, key, '')
      else if (Array.isArray(v)) add(section, subject, name, key, v.join(' '))
      else if (typeof v === 'object' && 'value' in v && 'at' in v)
        add(section, subject, name, key, (v as { value: number }).value, (v as { at: string }).at)
      else if (typeof v === 'object') flat(section, subject, name, v as Record<string, unknown>, `${key}.`)
      else add(section, subject, name, key, v as string | number)
    }
  }
  add('report', '', r.title, 'period', `${r.period.from}/${r.period.to}`)
  for (const w of r.water_levels) flat('water_levels', w.station, w.name, w)
  for (const g of r.rainfall) flat('rainfall', g.station, g.name, g)
  for (const a of r.air_quality) flat('air_quality', a.station, a.name, a)
  for (const c of r.cameras) flat('cameras', c.camera, c.name, c)
  const { items, ...totals } = r.alerts
  flat('alerts', '', '', totals)
  for (const a of items) flat('alert', a.id, a.title, a)
  return '\uFEFF' + rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n'
}
