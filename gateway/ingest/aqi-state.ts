import { BoundedMap } from '../util/lru.ts'
import { dailyAqi, hourlyAqi, type AqiPollutant, type AqiResult, AQI_POLLUTANTS } from '../domain/vn-aqi.ts'

// Hourly means per device and pollutant, the only state VN_AQI needs (Decision 1459/QĐ-TCMT
// §2.2: NowCast over 12 hourly means, daily values over the day's 24 hourly means and the 8-hour
// means that end in it). Behind an interface so several gateway nodes can share one (e.g. Redis).

export const HOUR_MS = 3_600_000
/** Vietnam keeps UTC+7 all year; the guide's day runs 01:00 to 00:00 local. */
export const VN_OFFSET_MS = 7 * HOUR_MS

export interface HourlyMeans {
  /** Adds one concentration to the hour that starts at `hourStart` (epoch ms, a multiple of 1 h). */
  add(key: string, pollutant: AqiPollutant, hourStart: number, value: number): void
  /** Takes back an `add` whose reading was not stored (the device sends it again). */
  remove(key: string, pollutant: AqiPollutant, hourStart: number, value: number): void
  /** Mean of each hour from `hourStart` going back `count` hours (index 0 = hourStart). */
  means(key: string, pollutant: AqiPollutant, hourStart: number, count: number): Array<number | undefined>
}

interface Bucket {
  sum: number
  n: number
}

/** In-process hourly means, bounded by devices (LRU) and by hours kept per device. */
export function memoryHourlyMeans(opts: { maxKeys?: number; keepHours?: number } = {}): HourlyMeans {
  const keepHours = opts.keepHours ?? 48
  const perKey = new BoundedMap<string, { newest: number; hours: Map<string, Bucket> }>(opts.maxKeys ?? 10_000)
  return {
    add(key, pollutant, hourStart, value) {
      let st = perKey.get(key)
      if (!st) {
        st = { newest: hourStart, hours: new Map() }
        perKey.set(key, st)
      }
      const oldest = Math.max(st.newest, hourStart) - (keepHours - 1) * HOUR_MS
      if (hourStart < oldest) return
      const k = `${pollutant}@${hourStart}`
      const b = st.hours.get(k)
      if (b) {
        b.sum += value
        b.n++
      } else st.hours.set(k, { sum: value, n: 1 })
      if (hourStart > st.newest) {
        st.newest = hourStart
        for (const hk of st.hours.keys()) {
          if (Number(hk.slice(hk.indexOf('@') + 1)) < oldest) st.hours.delete(hk)
        }
      }
    },
    remove(key, pollutant, hourStart, value) {
      const st = perKey.get(key)
      const k = `${pollutant}@${hourStart}`
      const b = st?.hours.get(k)
      if (!st || !b) return
      b.sum -= value
      b.n--
      if (b.n <= 0) st.hours.delete(k)
    },
    means(key, pollutant, hourStart, count) {
      const st = perKey.get(key)
      const out: Array<number | undefined> = []
      for (let i = 0; i < count; i++) {
        const b = st?.hours.get(`${pollutant}@${hourStart - i * HOUR_MS}`)
        out.push(b ? b.sum / b.n : undefined)
      }
      return out
    },
  }
}

export function hourStartOf(ts: number): number {
  return Math.floor(ts / HOUR_MS) * HOUR_MS
}

/** Hourly AQI (AQI^h) for the hour holding `ts`, from the means recorded so far. */
export function hourlyAqiAt(state: HourlyMeans, key: string, ts: number): AqiResult | undefined {
  const h = hourStartOf(ts)
  const one = (p: AqiPollutant) => state.means(key, p, h, 1)[0]
  return hourlyAqi({
    pm25: state.means(key, 'pm25', h, 12),
    pm10: state.means(key, 'pm10', h, 12),
    o3: one('o3'),
    no2: one('no2'),
    so2: one('so2'),
    co: one('co'),
  })
}

/** Start (epoch ms) of the local Vietnamese day holding `ts`. */
export function vnDayStartOf(ts: number): number {
  return Math.floor((ts + VN_OFFSET_MS) / (24 * HOUR_MS)) * 24 * HOUR_MS - VN_OFFSET_MS
}

function mean(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length
}

/**
 * Daily AQI (AQI^d, §2.2.2) of the local day starting at `dayStart`: the hours labelled 01:00 to
 * 00:00 are the hourly means of the hours starting 00:00 to 23:00.
 */
export function dailyAqiFor(state: HourlyMeans, key: string, dayStart: number): AqiResult | undefined {
  const lastHour = dayStart + 23 * HOUR_MS
  const day = (p: AqiPollutant) => state.means(key, p, lastHour, 24).filter((x): x is number => x !== undefined)
  const max = (xs: number[]) => (xs.length === 0 ? undefined : Math.max(...xs))
  // 8-hour means ending at each of the day's 24 hours, reaching 7 hours into the previous day.
  const o3 = state.means(key, 'o3', lastHour, 31)
  const eight: number[] = []
  for (let end = 0; end < 24; end++) {
    const m = mean(o3.slice(end, end + 8).filter((x): x is number => x !== undefined))
    if (m !== undefined) eight.push(m)
  }
  return dailyAqi({
    pm25_24h: mean(day('pm25')),
    pm10_24h: mean(day('pm10')),
    o3_max1h: max(day('o3')),
    o3_max8h: max(eight),
    no2_max1h: max(day('no2')),
    so2_max1h: max(day('so2')),
    co_max1h: max(day('co')),
  })
}

export { AQI_POLLUTANTS }
