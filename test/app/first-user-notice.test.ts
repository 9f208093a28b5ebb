import { afterAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../gateway/app.ts'
import { quietLog, testGatewayConfig } from '../support/gateway-api.ts'
import { tempDir } from '../support/services.ts'

// docs/operations.md, "First start": with no user account the gateway says, once it is up, how to
// create the first admin; there is no default password, and the notice goes once users exist.

const dir = tempDir('iocgw-first-user-')
afterAll(() => dir.remove())

async function start(): Promise<{ notices: string[]; close: () => Promise<void> }> {
  const notices: string[] = []
  const config = testGatewayConfig(dir.path, 'first-user-admin-token-0123456789')
  const gw = await startGateway({ config, notice: (t) => notices.push(t), logDestination: quietLog() })
  return { notices, close: () => gw.close() }
}

describe('first console user', () => {
  it('is announced after start-up while no user exists, with the command and no default password', async () => {
    const first = await start()
    await first.close()
    const i = first.notices.findIndex((n) => n.startsWith('ioc-gateway listening:'))
    const notice = first.notices.findIndex((n) => n.includes('iocgw user add <name> --role admin'))
    expect(i).toBeGreaterThanOrEqual(0)
    expect(notice).toBeGreaterThan(i)
    expect(first.notices[notice]).toMatch(/no default/)

    const { openRegistry } = await import('../../gateway/registry/sqlite.ts')
    const reg = openRegistry(dir.path)
    await reg.users.createUser({ name: 'admin', role: 'admin', password: 'a long first password' }, { type: 'cli', id: 'test' })
    await reg.close()
    const second = await start()
    await second.close()
    expect(second.notices.some((n) => n.includes('iocgw user add'))).toBe(false)
  })
})
