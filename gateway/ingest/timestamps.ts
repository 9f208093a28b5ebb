import { Refused } from './reasons.ts'

// ISO 8601 with a date, a time and an explicit zone. A time without a zone would be read in the
// gateway's local zone, which is a silent 7-hour error for a device set to Vietnamese time.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/

/** Epoch ms of a reading's `ts` (ISO 8601 string or epoch ms number). */
export function parseTs(ts: unknown, field: string): number {
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts)) throw new Refused('ts_invalid', `${field} must be a finite number of epoch milliseconds`)
    // Epoch seconds are the usual mistake: 1.7e9 is January 1970 in milliseconds.
    if (ts > 0 && ts < 1e11) throw new Refused('ts_invalid', `${field} ${ts} looks like epoch seconds: send epoch milliseconds or ISO 8601`)
    return Math.round(ts)
  }
  if (typeof ts === 'string') {
    if (!ISO.test(ts))
      throw new Refused('ts_invalid', `${field} "${ts.slice(0, 40)}" is not ISO 8601 with a zone (e.g. 2025-10-28T07:00:00+07:00)`)
    const ms = Date.parse(ts)
    if (!Number.isFinite(ms)) throw new Refused('ts_invalid', `${field} "${ts.slice(0, 40)}" is not a valid date`)
    return ms
  }
  throw new Refused('ts_invalid', `${field} must be an ISO 8601 string or epoch milliseconds`)
}
