// What the ingest bench (bench/ingest.ts) asks InfluxDB: readings stored, its own statistics and
// the continuous-query runs that fall inside a run.
import type { Influxd } from '../test/support/influxd.ts'

/**
 * The newest reading's time in `db`: at full speed a device sends more than one reading per ms, so
 * its times (one ms apart at least) run ahead of the clock, and the next run starts after them.
 */
export async function newestTs(influxd: Influxd, db: string): Promise<number> {
  const r = await influxd.query('SELECT last(water_level) FROM readings', db)
  return Number(r.results[0]?.series?.[0]?.values[0]?.[0] ?? 0)
}

export async function countStored(influxd: Influxd, db: string): Promise<number> {
  const r = await influxd.query('SELECT count(water_level) FROM readings', db)
  return Number(r.results[0]?.series?.[0]?.values[0]?.[1] ?? 0)
}

/**
 * For a broker that acknowledges before storing: the readings in `db` once the count reaches what
 * was acknowledged or stops growing (checked every second). When the run ended is what the writer
 * reports (`lastWriteOf`): its last write InfluxDB accepted, not the check that noticed it.
 */
export async function storedOnceSettled(influxd: Influxd, db: string, acked: number): Promise<number> {
  let last = -1
  for (;;) {
    const stored = await countStored(influxd, db)
    if (stored >= acked || stored === last) return stored
    last = stored
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** InfluxDB's own statistics (SHOW STATS): a module's field, 0 when InfluxDB does not report it. */
export async function influxStats(influxd: Influxd): Promise<(module: string, field: string) => number> {
  const series = (await influxd.query('SHOW STATS')).results[0]?.series ?? []
  return (module, field) => {
    const s = series.find((x) => x.name === module)
    const i = s ? s.columns.indexOf(field) : -1
    return i < 0 ? 0 : Number(s!.values[0]![i] ?? 0)
  }
}

/**
 * InfluxDB's own view of the gateway's writes (httpd module): requests, points per request and
 * the server-side time per request, to tell the database's time from the gateway's.
 */
export async function influxWriteStats(influxd: Influxd): Promise<string> {
  const stat = await influxStats(influxd)
  const reqs = stat('httpd', 'writeReq')
  return `influxd (gateway runs): ${reqs} write requests, ${(reqs ? stat('httpd', 'pointsWrittenOK') / reqs : 0).toFixed(0)} points each, server time ${(reqs ? stat('httpd', 'writeReqDurationNs') / reqs / 1e6 : 0).toFixed(1)} ms per request`
}

/**
 * The gateway's rollups are the gateway's cost: once its runs are over its continuous queries go,
 * so that they no longer run (on InfluxDB's clock, over the gateway's millions of points) inside a
 * reference's run.
 */
export async function dropContinuousQueries(influxd: Influxd, db: string): Promise<void> {
  const series = (await influxd.query('SHOW CONTINUOUS QUERIES')).results[0]?.series ?? []
  const names = series.find((s) => s.name === db)?.values.map((v) => String(v[0])) ?? []
  for (const name of names) await influxd.query(`DROP CONTINUOUS QUERY "${name}" ON "${db}"`)
  console.log(`dropped the gateway's ${names.length} continuous queries`)
}

/** Continuous-query runs so far and the query executor's total time (CQs run through it). */
export async function cqSnapshot(influxd: Influxd): Promise<{ runs: number; queryNs: number }> {
  const stat = await influxStats(influxd)
  return { runs: stat('cq', 'queryOk') + stat('cq', 'queryFail'), queryNs: stat('queryExecutor', 'queryDurationNs') }
}

/**
 * The rollups' continuous queries run on InfluxDB's clock, whichever run is on: a note of how many
 * fell inside this one and how long InfluxDB spent in queries meanwhile, to read its figure by.
 */
export async function cqDuring<T>(influxd: Influxd, run: () => Promise<T>): Promise<{ result: T; note: string }> {
  const before = await cqSnapshot(influxd)
  const result = await run()
  const after = await cqSnapshot(influxd)
  return {
    result,
    note: `continuous queries: ${after.runs - before.runs} run(s), ${((after.queryNs - before.queryNs) / 1e9).toFixed(1)} s of queries`,
  }
}
