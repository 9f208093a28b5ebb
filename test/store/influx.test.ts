import { describe } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { requireInfluxd, startInfluxd } from '../support/influxd.ts'
import { tempDir } from '../support/services.ts'
import { storeContract } from './contract.ts'

describe.skipIf(!requireInfluxd())('InfluxDB store', () => {
  storeContract('InfluxDB 1.x', async () => {
    const influxd = await startInfluxd()
    const dir = tempDir('iocgw-store-influx-')
    const logger = createLogger('silent')
    const metrics = new Metrics({ defaults: false })
    const open = () => InfluxTimeSeriesStore.open({ url: influxd.urlFor('ioc_contract'), dataDir: dir.path, logger, metrics })
    let store = await open()
    return {
      store,
      reopen: async () => {
        await store.close()
        store = await open()
        return store
      },
      cleanup: async () => {
        await store.close()
        await influxd.remove()
        dir.remove()
      },
    }
  })
})
