import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { DeviceRegistry } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'
import { registryContract } from './contract.ts'

registryContract('SQLite', async () => {
  const dir = tempDir()
  let registry: DeviceRegistry = openRegistry(dir.path)
  return {
    registry,
    async reopen() {
      await registry.close()
      registry = openRegistry(dir.path)
      return registry
    },
    async dispose() {
      await registry.close()
      dir.remove()
    },
  }
})
