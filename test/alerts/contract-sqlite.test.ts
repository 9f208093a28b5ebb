import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { tempDir } from '../support/services.ts'
import { alertStoreContract } from './contract.ts'

alertStoreContract('SQLite', async () => {
  const dir = tempDir()
  const store = await openAlertStore({ dataDir: dir.path })
  return {
    store,
    async dispose() {
      await store.close()
      dir.remove()
    },
  }
})
