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
        env: {
          IOC_DATA_DIR: dir.path,
          IOC_HTTP_PORT: '0',
          IOC_MQTT_PORT: '0',
          IOC_MQTT_WS_PORT: '0',
          IOC_LOG_LEVEL: 'silent',
          IOC_ADMIN_TOKEN: 'start-stop-admin-token-0123',
        },
      })
      const gw = await startGateway({ config, notice: () => {} })
      expect(gw.ports.http).toBeGreaterThan(0)
      await gw.close()
      dir.remove()
    }
  })
})

describe('one gateway per data directory', () => {
  it('refuses a second gateway on the same directory in one line, and starts once the first has stopped', async () => {
    const dir = tempDir()
    const config = (port: string) =>
      loadConfig({
        file: undefined,
        env: {
          IOC_DATA_DIR: dir.path,
          IOC_HTTP_PORT: port,
          IOC_MQTT_PORT: port,
          IOC_MQTT_WS_PORT: port,
          IOC_LOG_LEVEL: 'silent',
          IOC_ADMIN_TOKEN: 'data-dir-lock-admin-token-01',
        },
      })
    const first = await startGateway({ config: config('0'), notice: () => {} })
    await expect(startGateway({ config: config('0'), notice: () => {} })).rejects.toThrow(
      /^data directory .* is in use by another gateway process; give each gateway its own/,
    )
    // The first one is untouched by the refused start.
    expect((await fetch(`http://127.0.0.1:${first.ports.http}/healthz`)).ok).toBe(true)
    await first.close()
    const second = await startGateway({ config: config('0'), notice: () => {} })
    await second.close()
    dir.remove()
  })
})
