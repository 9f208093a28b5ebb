import { openAlertsDb } from '../../gateway/alerts/db.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { sqliteWebhookStore } from '../../gateway/webhooks/sqlite-store.ts'
import { tempDir } from '../support/services.ts'
import { webhookStoreContract } from './store-contract.ts'

// Webhooks in this gateway's alerts.db, on the connection it shares with the alert store.
webhookStoreContract('SQLite', async (now) => {
  const dir = tempDir()
  const alerts = await openAlertStore({ dataDir: dir.path })
  const shared = openAlertsDb(dir.path)
  return {
    alerts,
    store: sqliteWebhookStore(shared.db, now),
    async dispose() {
      shared.release()
      await alerts.close()
      dir.remove()
    },
  }
})
