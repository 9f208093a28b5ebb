import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import { openAlertsDb } from './db.ts'
import { openPostgresAlertStore } from './postgres/store.ts'
import { sqliteAlertStore } from './sqlite-store.ts'
import type { AlertStore } from './store.ts'

/**
 * The alert store of this gateway: in PostgreSQL when the node is part of a cluster (postgres.url,
 * its pool given), otherwise <dataDir>/alerts.db. The notification outbox and the webhook
 * deliveries go with the alerts (AlertTx.sql, docs/operations.md "Notifications across nodes",
 * "Webhooks across nodes"); AlertTx.local still commits, just before the PostgreSQL transaction,
 * whatever a router writes to this node's alerts.db.
 * `seed`: the first node to open the PostgreSQL store copies its alerts.db's alert state in (postgres/seed.ts).
 * close() releases alerts.db; the pool belongs to the caller.
 */
export async function openAlertStore(opts: {
  dataDir: string
  pool?: pg.Pool | undefined
  /** Cluster mode: copy this node's alerts.db in when no node has (docs/operations.md "Alerts in PostgreSQL"). */
  seed?: { nodeId: string; logger: Logger } | undefined
}): Promise<AlertStore> {
  const shared = openAlertsDb(opts.dataDir)
  if (!opts.pool) return sqliteAlertStore(shared.db, () => shared.release())
  try {
    return await openPostgresAlertStore(opts.pool, {
      localTx: (fn) => shared.db.transaction(fn)(),
      onClose: () => shared.release(),
      seed: opts.seed && { file: join(opts.dataDir, 'alerts.db'), ...opts.seed },
    })
  } catch (err) {
    shared.release()
    throw err
  }
}
