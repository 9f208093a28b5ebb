import { describe, expect, it } from 'vitest'
import { startGateway } from '../../gateway/app.ts'
import { envConfig } from '../support/gateway-api.ts'
import { tempDir } from '../support/services.ts'

describe('stopping right after start (an operator who hits Ctrl-C at once)', () => {
  it('closes cleanly while the vision models are still loading, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const dir = tempDir()
      const config = envConfig(dir.path, 'start-stop-admin-token-0123')
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
    const config = () => envConfig(dir.path, 'data-dir-lock-admin-token-01')
    const first = await startGateway({ config: config(), notice: () => {} })
    await expect(startGateway({ config: config(), notice: () => {} })).rejects.toThrow(
      /^data directory .* is in use by another gateway process; give each gateway its own/,
    )
    // The first one is untouched by the refused start.
    expect((await fetch(`http://127.0.0.1:${first.ports.http}/healthz`)).ok).toBe(true)
    await first.close()
    const second = await startGateway({ config: config(), notice: () => {} })
    await second.close()
    dir.remove()
  })
})
