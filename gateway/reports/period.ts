import type { Lang, ReportRequest } from './types.ts'

// The period and place a report is asked for, checked once for the API, the CLI and the daily
// report. Times are ISO 8601 or a local date (YYYY-MM-DD, a day in Asia/Ho_Chi_Minh, UTC+7 all
// year: Vietnam has no daylight saving time).

export const VN_OFFSET_MS = 7 * 3_600_000
export const DAY_MS = 86_400_000
/** The longest period one report covers (a leap year). */
export const MAX_REPORT_DAYS = 366

export class ReportRequestError extends Error {
  readonly statusCode = 400
  constructor(message: string) {
    super(message)
    this.name = 'ReportRequestError'
  }
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/

/** Epoch ms of an ISO 8601 time or of the local (UTC+7) midnight starting a YYYY-MM-DD day. */
export function parseTime(text: string, name: string): number {
  const d = DATE_ONLY.exec(text)
  if (d) {
    const ms = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3])) - VN_OFFSET_MS
    if (new Date(ms + VN_OFFSET_MS).toISOString().slice(0, 10) !== text)
      throw new ReportRequestError(`${name}: ${text} is not a calendar date`)
    return ms
  }
  // A time without a zone would be read in the server's zone: refuse it rather than guess.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new ReportRequestError(
      `${name}: "${text}" is neither a date (YYYY-MM-DD, Vietnam time) nor an ISO 8601 time with a zone (2026-12-03T00:00:00+07:00)`,
    )
  }
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) throw new ReportRequestError(`${name}: "${text}" is not a valid time`)
  return ms
}

export interface RawReportRequest {
  from?: string | undefined
  to?: string | undefined
  district?: string | undefined
  station?: string | undefined
  lang?: string | undefined
}

/**
 * Checks a request: `from` required; `to` defaults to one day after `from` (a date as `to` means
 * the end of that day, so from=to=2026-12-03 is that day); to after from; at most 366 days.
 */
export function reportRequest(raw: RawReportRequest): ReportRequest {
  if (!raw.from) throw new ReportRequestError('from: required (a date YYYY-MM-DD or an ISO 8601 time)')
  const from = parseTime(raw.from, 'from')
  let to = raw.to ? parseTime(raw.to, 'to') : from + DAY_MS
  if (raw.to && DATE_ONLY.test(raw.to)) to += DAY_MS
  if (to <= from) throw new ReportRequestError(`to (${new Date(to).toISOString()}) must be after from (${new Date(from).toISOString()})`)
  if (to - from > MAX_REPORT_DAYS * DAY_MS)
    throw new ReportRequestError(`the period is ${Math.ceil((to - from) / DAY_MS)} days; a report covers at most ${MAX_REPORT_DAYS} days`)
  const lang = raw.lang ?? 'vi'
  if (lang !== 'vi' && lang !== 'en') throw new ReportRequestError(`lang: "${lang}" is not one of vi, en`)
  return { from, to, district: raw.district || undefined, station: raw.station || undefined, lang: lang as Lang }
}

/** The local (UTC+7) calendar date of an instant, YYYY-MM-DD. */
export function localDate(ms: number): string {
  return new Date(ms + VN_OFFSET_MS).toISOString().slice(0, 10)
}

/** Epoch ms of the local midnight starting the day that holds `ms`. */
export function localDayStart(ms: number): number {
  return Math.floor((ms + VN_OFFSET_MS) / DAY_MS) * DAY_MS - VN_OFFSET_MS
}

/** "14:20 03/12/2026" in Vietnam time. */
export function localTime(ms: number, withDate = true): string {
  const d = new Date(ms + VN_OFFSET_MS)
  const p = (n: number) => String(n).padStart(2, '0')
  const hm = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`
  return withDate ? `${hm} ${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}` : hm
}

/** "03/12/2026" in Vietnam time. */
export function localDay(ms: number): string {
  const d = new Date(ms + VN_OFFSET_MS)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`
}
