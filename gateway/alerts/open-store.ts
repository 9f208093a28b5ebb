import type pg from 'pg'
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
 * close() releases alerts.db; the pool belongs to the caller.
 */
export async function openAlertStore(opts: { dataDir: string; pool?: pg.Pool | undefined }): Promise<AlertStore> {
  const shared = openAlertsDb(opts.dataDir)
  if (!opts.pool) return sqliteAlertStore(shared.db, () => shared.release())
  try {
    return await openPostgresAlertStore(opts.pool, {
      localTx: (fn) => shared.db.transaction(fn)(),
      onClose: () => shared.release(),
    })
  } catch (err) {
    shared.release()
    throw err
  }
}
