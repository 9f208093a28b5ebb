import type { Lang } from './types.ts'

// Figures and times as a reader in Vietnam writes them: decimal comma in Vietnamese (2,15 m),
// point in English; every time in Asia/Ho_Chi_Minh whatever zone the server runs in.

export const TZ = 'Asia/Ho_Chi_Minh'

const locale = (lang: Lang) => (lang === 'vi' ? 'vi-VN' : 'en-GB')

export function num(lang: Lang, n: number, digits = 2): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: digits }).format(n)
}

function parts(iso: string | number): Record<string, string> | null {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return null
  const out: Record<string, string> = {}
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone: TZ,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
  for (const p of f.formatToParts(d)) out[p.type] = p.value
  return out
}

/** Day and time, e.g. 03/12 14:05 (the year is in the period line); day first in both languages. */
export function shortTime(_lang: Lang, iso: string | number): string {
  const p = parts(iso)
  return p ? `${p.day}/${p.month} ${p.hour}:${p.minute}` : String(iso)
}

/** 03/12/2026 14:05. */
export function fullTime(_lang: Lang, iso: string | number): string {
  const p = parts(iso)
  return p ? `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}` : String(iso)
}

/** A duration in minutes below two hours, else in hours with one decimal. */
export function duration(lang: Lang, seconds: number, units: { h: string; min: string }): string {
  if (seconds < 7200) return `${num(lang, Math.round(seconds / 60), 0)} ${units.min}`
  return `${num(lang, seconds / 3600, 1)} ${units.h}`
}
