import type pg from 'pg'
import { pino } from 'pino'
import { createAlerting, type Alerting, type AlertingOptions } from '../../gateway/alerts/engine.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { tempDir } from '../support/services.ts'
import { metrics, quietLogger, stations } from './helpers.ts'

/** What one node of a cluster has of the alerts: its own data directory and pool, on the database shared by all. */
export interface PgNode {
  dataDir: string
  pool: pg.Pool
  store: AlertStore
  /** The node's alert engine on its store: a quiet log, metrics of its own, the project's stations; `opts` gives the rules (and a clock, a rules store). */
  alerting(opts: Pick<AlertingOptions, 'rules'> & Partial<AlertingOptions>): Alerting
  /** Ends the pool and removes the directory: close the store (or the engine on it) first. */
  release(): Promise<void>
}

/** One node on the PostgreSQL database at `url`: a pool of 4, a fresh data directory, its alert store. */
export async function openPgNode(url: string): Promise<PgNode> {
  const dir = tempDir()
  const pool = openPgPool(url, { logger: pino({ level: 'silent' }), max: 4 })
  const store = await openAlertStore({ dataDir: dir.path, pool })
  return {
    dataDir: dir.path,
    pool,
    store,
    alerting: (opts) =>
      createAlerting({ dataDir: dir.path, logger: quietLogger(), metrics: metrics(), stations: stations(), store, ...opts }),
    async release() {
      await pool.end()
      dir.remove()
    },
  }
}
