import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import { sqliteOutbox } from '../../gateway/notify/sqlite-outbox.ts'
import { tempDir } from '../support/services.ts'
import { outboxContract } from './outbox-contract.ts'

// The outbox in this gateway's alerts.db, on the connection it shares with the alert store.
outboxContract('SQLite', async () => {
  const dir = tempDir()
  const alerts = await openAlertStore({ dataDir: dir.path })
  const notify = openNotifyDb(dir.path)
  return {
    alerts,
    outbox: sqliteOutbox(notify.db),
    async dispose() {
      notify.release()
      await alerts.close()
      dir.remove()
    },
  }
})
