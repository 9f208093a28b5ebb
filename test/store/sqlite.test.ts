import { Metrics } from '../../gateway/metrics/registry.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import { tempDir } from '../support/services.ts'
import { storeContract } from './contract.ts'

storeContract('SQLite', async () => {
  const dir = tempDir('iocgw-store-sqlite-')
  const logger = createLogger('silent')
  const metrics = new Metrics({ defaults: false })
  let store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics })
  return {
    store,
    reopen: async () => {
      await store.close()
      store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics })
      return store
    },
    cleanup: async () => {
      await store.close()
      dir.remove()
    },
  }
})
