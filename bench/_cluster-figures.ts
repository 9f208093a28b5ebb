// The cluster bench's arithmetic (bench/cluster.ts): failover times from acknowledgement times,
// CPU per stored reading, and the goal lines. Kept apart from the processes so a test holds it.
import { pct } from './_args.ts'

/**
 * Time from a kill to every publisher acknowledged again: the latest of each publisher's first
 * PUBACK after `killedAt`. `undefined` when any publisher had none by the end of the wait (a
 * failover that did not complete), so such a kill is never averaged in as a number.
 */
export function failoverMs(killedAt: number, firstAckAfter: ReadonlyArray<number | undefined>): number | undefined {
  if (firstAckAfter.length === 0) return undefined
  let latest = killedAt
  for (const t of firstAckAfter) {
    if (t === undefined || t < killedAt) return undefined
    latest = Math.max(latest, t)
  }
  return latest - killedAt
}

/** p50 and p99 (nearest rank) of the completed failovers, and how many did not complete. */
export function failoverSummary(times: ReadonlyArray<number | undefined>): { p50: number; p99: number; done: number; failed: number } {
  const done = times.filter((t): t is number => t !== undefined)
  return { p50: pct(done, 50), p99: pct(done, 99), done: done.length, failed: times.length - done.length }
}

/** Microseconds of CPU per stored reading, from cores used over a window of `seconds`. */
export function cpuPerReadingUs(cores: number, seconds: number, stored: number): number {
  return stored > 0 ? (cores * seconds * 1e6) / stored : Number.NaN
}

/** `name value (limit): met / not met`, the form every bench prints its goals in. */
export function goalLine(name: string, value: number, unit: string, op: '<' | '≤', limit: number): string {
  const met = Number.isFinite(value) && (op === '<' ? value < limit : value <= limit)
  const v = Number.isFinite(value) ? `${value.toFixed(2)}${unit}` : 'no figure'
  return `goal: ${name} ${v} (${op} ${limit}${unit}): ${met ? 'met' : 'NOT MET'}`
}
