// The ingest bench's tables (bench/ingest.ts): a row per run, where the machine's CPU went, and the
// ceiling line that sets each run's CPU per stored reading against the reference's.
import type { CpuWindow } from './_cpu.ts'
import type { PubResult } from './_ingest-publishers.ts'

export interface Row {
  name: string
  rate: number
  p50?: number
  p99?: number
  cpu?: number
  rss?: number
  note?: string
  /** Machine and per-group CPU over the measured window. */
  where?: { window: CpuWindow; side: string[] }
}

/** p99 of every message of the run, the first 2 s included, for the note beside the row. */
export const wholeRunP99 = (results: PubResult[]): string =>
  `p99 with the first 2 s ${pct(
    results.flatMap((r) => r.latenciesAll),
    99,
  ).toFixed(1)} ms`

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

export function fmt(rows: Row[]): string {
  const n = (x: number | undefined, d = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d))
  const lines = [
    '| run | readings/s stored | p50 ms | p99 ms | CPU (cores) | RSS peak MB | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const r of rows)
    lines.push(
      `| ${r.name} | ${n(r.rate)} | ${n(r.p50, 1)} | ${n(r.p99, 1)} | ${n(r.cpu, 2)} | ${r.rss ? n(r.rss / 1048576) : '-'} | ${r.note ?? ''} |`,
    )
  return lines.join('\n')
}

/**
 * Where the machine's CPU went in each run: whether the broker side (one gateway process, or
 * mosquitto plus its subscriber) or the whole machine was the limit, and the CPU each part spends
 * per stored reading.
 */
export function fmtWhere(rows: Row[]): string {
  const lines = [
    '| run | machine busy (cores) | broker side (cores) | publishers (cores) | influxd (cores) | µs CPU per stored reading: broker side / publishers / influxd / all |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of rows) {
    if (!r.where) continue
    const w = r.where.window
    const side = r.where.side.reduce((s, g) => s + (w.groups.get(g) ?? 0), 0)
    const pub = w.groups.get('publishers') ?? 0
    const inf = w.groups.get('influxd') ?? 0
    const us = (cores: number) => ((cores * 1e6) / r.rate).toFixed(1)
    lines.push(
      `| ${r.name} | ${w.machineBusy.toFixed(2)} of ${w.cores} | ${side.toFixed(2)} | ${pub.toFixed(2)} | ${inf.toFixed(2)} | ${us(side)} / ${us(pub)} / ${us(inf)} / ${us(w.machineBusy)} |`,
    )
  }
  return lines.join('\n')
}

/** CPU per stored reading, all in (every process on the machine), over a run's window. */
export const allInUs = (r: Row): number => (r.where ? (r.where.window.machineBusy * 1e6) / r.rate : Number.NaN)

/**
 * What the machine's CPU allows against the reference: a run's all-in cost per reading (its
 * publishers and influxd included) on every core, over what the reference stored. A ceiling for
 * any layout of the same work (more threads or processes only add to it): when the reference
 * keeps the machine busy and costs less per reading, no layout of the run's work can reach it.
 */
export function cpuBound(ref: Row, rows: Row[]): string {
  const parts = rows.map((r) => {
    const cores = r.where?.window.cores ?? 0
    return `${r.name} ${allInUs(r).toFixed(1)} µs (at most ${((cores * 1e6) / allInUs(r) / ref.rate).toFixed(2)}x on all ${cores} cores)`
  })
  return `CPU per stored reading, all in: ${ref.name} ${allInUs(ref).toFixed(1)} µs with ${ref.where?.window.machineBusy.toFixed(2)} cores busy; ${parts.join('; ')}`
}
