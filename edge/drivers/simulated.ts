import Type, { type Static } from 'typebox'
import type { DriverPlugin, Sample } from './types.ts'

// A simulated field for demos and tests. Every value is a pure function of (seed, time): two
// agents with the same seed report the same series, and a restarted agent continues it.

const Schema = Type.Object(
  {
    type: Type.Literal('simulated'),
    sensor: Type.Union([Type.Literal('water_level'), Type.Literal('rain_gauge'), Type.Literal('air_quality')]),
    seed: Type.Integer({ default: 1 }),
    /** Simulated seconds per real second (60: one simulated hour per minute). */
    time_scale: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, default: 1 }),
    /** Water level before and at the flood peak, metres above the gauge datum. */
    base_m: Type.Number({ default: 0.6 }),
    peak_m: Type.Number({ default: 3.8 }),
    /** Hours from the start of a flood to its peak, and between flood starts. */
    rise_h: Type.Number({ exclusiveMinimum: 0, default: 18 }),
    period_h: Type.Number({ exclusiveMinimum: 0, default: 120 }),
    /** Peak rain intensity, mm/h. */
    peak_rain_mm_h: Type.Number({ minimum: 0, default: 40 }),
    /** Mean PM2.5, µg/m³. */
    pm25_base: Type.Number({ minimum: 0, default: 30 }),
    noise: Type.Number({ minimum: 0, maximum: 1, default: 0.05, description: 'Relative noise' }),
  },
  { additionalProperties: false },
)
type Config = Static<typeof Schema>

const HOUR = 3_600_000

/** A deterministic number in [0, 1) for (seed, n): mulberry32 over a mixed key. */
export function unitRandom(seed: number, n: number): number {
  let a = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(n | 0, 0x85ebca6b) ^ Math.floor(n / 2 ** 32)) >>> 0
  a = (a + 0x6d2b79f5) | 0
  let t = Math.imul(a ^ (a >>> 15), 1 | a)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Symmetric noise in [-1, 1) for (seed, n). */
const jitter = (seed: number, n: number) => 2 * unitRandom(seed, n) - 1

/**
 * Gamma-shaped unit hydrograph, 0 at the start, 1 at `tp` hours, a long recession after: the
 * classic shape of a river responding to a storm (q/qp = (t/tp)^k · e^{k(1 - t/tp)}).
 */
export function hydrograph(hours: number, tp: number, k = 3): number {
  if (hours <= 0) return 0
  const x = hours / tp
  return x ** k * Math.exp(k * (1 - x))
}

export function simulate(cfg: Config, at: number, intervalS: number): Sample {
  const sim = at * cfg.time_scale
  const second = Math.floor(sim / 1000)
  const n = (k: number) => jitter(cfg.seed + k, second)
  // Each seed floods at its own phase, so stations on one river do not peak at the same instant.
  const phaseH = (((sim / HOUR + unitRandom(cfg.seed, 0) * cfg.period_h) % cfg.period_h) + cfg.period_h) % cfg.period_h
  const health = { battery: Math.round((12.6 - 0.4 * unitRandom(cfg.seed, 1) + 0.02 * n(2)) * 100) / 100, rssi: Math.round(-70 + 8 * n(3)) }
  switch (cfg.sensor) {
    case 'water_level': {
      const h = hydrograph(phaseH, cfg.rise_h)
      const level = cfg.base_m + (cfg.peak_m - cfg.base_m) * h + cfg.noise * 0.1 * n(4)
      return { water_level: Math.round(level * 1000) / 1000, ...health }
    }
    case 'rain_gauge': {
      // The storm comes before the river's peak.
      const intensity = cfg.peak_rain_mm_h * hydrograph(phaseH + 6, cfg.rise_h / 2, 2)
      const mm = Math.max(0, intensity * (intervalS / 3600) * (1 + cfg.noise * n(5)))
      // Tipping-bucket resolution: 0.2 mm.
      return { rainfall: Math.round(mm * 5) / 5, interval_s: intervalS, ...health }
    }
    case 'air_quality': {
      const localH = ((((sim + 7 * HOUR) % (24 * HOUR)) + 24 * HOUR) % (24 * HOUR)) / HOUR
      const bump = (c: number, w: number) => Math.exp(-(((localH - c) / w) ** 2))
      const traffic = bump(7.5, 1.5) + 0.8 * bump(18, 2)
      const f = (k: number) => 1 + cfg.noise * n(k)
      const pm25 = cfg.pm25_base * (0.7 + 0.8 * traffic + 0.3 * Math.cos((2 * Math.PI * (localH - 3)) / 24)) * f(6)
      const o3 = (20 + 90 * Math.max(0, Math.sin((Math.PI * (localH - 7)) / 12))) * f(7)
      const r1 = (x: number) => Math.round(x * 10) / 10
      return {
        pm25: r1(pm25),
        pm10: r1(pm25 * 1.7 * f(8)),
        no2: r1((20 + 45 * traffic) * f(9)),
        so2: r1(8 * f(10)),
        o3: r1(o3),
        co: Math.round((700 + 900 * traffic) * f(11)),
        temperature: r1(25 + 5 * Math.sin((Math.PI * (localH - 9)) / 12)),
        humidity: r1(Math.min(100, 80 - 15 * Math.sin((Math.PI * (localH - 9)) / 12))),
        ...health,
      }
    }
  }
}

const plugin: DriverPlugin<Config> = {
  name: 'simulated',
  schema: Schema,
  async create(cfg) {
    let last: number | undefined
    return {
      async read(at) {
        const intervalS = last === undefined ? 60 : Math.max(1, Math.round((at - last) / 1000))
        last = at
        return simulate(cfg, at, intervalS)
      },
      async close() {},
    }
  },
}
export default plugin
