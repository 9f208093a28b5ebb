import { join } from 'node:path'
import { openDetectionLog } from '../../gateway/vision/detection-log.ts'
import { tempDir } from '../support/services.ts'
import { detectionLogContract } from './detection-log-contract.ts'

// One node's detection log, <dataDir>/vision.sqlite.
detectionLogContract('SQLite', async () => {
  const dir = tempDir()
  const log = openDetectionLog(join(dir.path, 'vision.sqlite'))
  return {
    log,
    async dispose() {
      log.close()
      dir.remove()
    },
  }
})
