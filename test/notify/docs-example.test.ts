import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../gateway/config/load.ts'
import { createNotifier } from '../../gateway/notify/notifier.ts'
import { metrics, quietLogger } from '../alerts/helpers.ts'
import { tempDir } from '../support/services.ts'

// The `notify` example of docs/notify.md is what an operator copies: it must load as written,
// with its keys from the environment, and carry every channel.

describe('docs/notify.md example', () => {
  it('loads through the gateway configuration with ${ENV} keys and enables sms, zalo_zns and zalo_oa', async () => {
    const doc = readFileSync('docs/notify.md', 'utf8')
    const yaml = /```yaml\n(notify:[\s\S]*?)```/.exec(doc)?.[1]
    expect(yaml).toBeDefined()
    const dir = tempDir()
    try {
      const file = join(dir.path, 'gateway.yaml')
      writeFileSync(file, yaml!)
      const names = [...yaml!.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)
      expect(names).toEqual(expect.arrayContaining(['ESMS_API_KEY', 'SPEEDSMS_TOKEN', 'TWILIO_AUTH_TOKEN', 'ZALO_REFRESH_TOKEN']))
      const env: NodeJS.ProcessEnv = Object.fromEntries(
        names.map((n) => [n, n === 'TWILIO_ACCOUNT_SID' ? `AC${'0'.repeat(32)}` : `value-of-${n}`]),
      )
      expect(() => loadConfig({ file, env: {} })).toThrow(/environment variable ESMS_API_KEY/)
      const config = loadConfig({ file, env })
      expect(config.notify.esms?.apiKey).toBe('value-of-ESMS_API_KEY')
      const n = createNotifier({ dataDir: dir.path, logger: quietLogger(), metrics: metrics(), config: config.notify, start: false })
      try {
        expect(n.contactWarnings(['sms', 'zalo_zns', 'zalo_oa'])).toEqual([])
      } finally {
        await n.close()
      }
    } finally {
      dir.remove()
    }
  })
})
