import { describe, expect, it } from 'vitest'
import { startGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { tempDir } from '../support/services.ts'

describe('stopping right after start (an operator who hits Ctrl-C at once)', () => {
  it('closes cleanly while the vision models are still loading, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const dir = tempDir()
      const config = loadConfig({
        file: undefined,
        env: { IOC_DATA_DIR: dir.path, IOC_HTTP_PORT: '0', IOC_MQTT_PORT: '0', IOC_MQTT_WS_PORT: '0', IOC_LOG_LEVEL: 'silent', IOC_ADMIN_TOKEN: 'start-stop-admin-token-0123' },
      })
      const gw = await startGateway({ config, notice: () => {} })
      expect(gw.ports.http).toBeGreaterThan(0)
      await gw.close()
      dir.remove()
    }
  })
})
