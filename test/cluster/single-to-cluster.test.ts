import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, logIn } from '../support/gateway-api.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'

// docs/operations.md "Moving a single gateway to a cluster": the gateway that ran alone is stopped
// and started again on its own data directory as the cluster's first node; what it had (devices
// with their secrets, users, rules, contacts, an acknowledged alert) is then the cluster's, served
// the same by a second node, and the condition still holding opens no second alert.

const ADMIN = 'single-to-cluster-admin-token-0123456789'
const PASSWORD = 'mật-khẩu-trực-ban-2026'

describe.skipIf(!requirePostgres())('a single gateway moved to a cluster', () => {
  const dirA = tempDir()
  const dirB = tempDir()
  const empty = tempDir('iocgw-no-models-')
  let pgi: PgInstance
  const running: GatewayProcess[] = []
  const env = { IOC_ADMIN_TOKEN: ADMIN, IOC_MODELS_DIR: empty.path, IOC_MODELS_FALLBACKS: '0' }
  const api = (gw: GatewayProcess, method: string, path: string, body?: unknown) =>
    fetch(`${gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
  const json = async <T>(res: Promise<Response>): Promise<T> => (await (await res).json()) as T
  const start = async (dir: string, more: Record<string, string> = {}) => {
    const gw = await spawnGateway({ dataDir: dir, env: { ...env, ...more } })
    running.push(gw)
    return gw
  }
  const stop = async (gw: GatewayProcess) => {
    await stopGateway(gw)
    running.splice(running.indexOf(gw), 1)
  }

  beforeAll(async () => {
    pgi = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    for (const gw of running) await stopGateway(gw)
    await pgi?.stop()
    for (const d of [dirA, dirB, empty]) d.remove()
  })

  it('keeps what the single gateway had, served by every node, and opens no second alert', async () => {
    const alone = await start(dirA.path)
    const rules = { version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }
    expect((await api(alone, 'PUT', '/rules', rules)).status).toBe(200)
    const made = await api(alone, 'POST', '/devices', {
      id: 'kim-long-01',
      kind: 'water_level',
      name: 'Trạm Kim Long',
      station: 'kim-long',
    })
    expect(made.status).toBe(201)
    const { credentials } = (await made.json()) as { credentials: { username: string; password: string } }
    expect((await api(alone, 'POST', '/users', { name: 'an', role: 'officer', password: PASSWORD })).status).toBe(201)
    const contact = { name: 'Trực ban', phone: '0905123456', role: 'officer', channels: ['sms'] }
    expect((await api(alone, 'POST', '/subscriptions', contact)).status).toBe(201)
    const publish = async (gw: GatewayProcess, level: number) => {
      const device = await connectDevice(gw.mqttUrl, credentials)
      try {
        await device.publishAsync('devices/kim-long-01/telemetry', JSON.stringify({ values: { water_level: level } }), { qos: 1 })
      } finally {
        await device.endAsync(true)
      }
    }
    await publish(alone, 5)
    type Page = { items: Array<{ id: string }> }
    const alertId = await waitFor(async () => (await json<Page>(api(alone, 'GET', '/alerts?station=kim-long'))).items[0]?.id, 30_000)
    expect((await api(alone, 'POST', `/alerts/${alertId}/ack`, { note: 'Đã báo trực ban' })).status).toBe(200)
    const before = {
      device: await json(api(alone, 'GET', '/devices/kim-long-01')),
      alert: await json(api(alone, 'GET', `/alerts/${alertId}`)),
      rules: await json(api(alone, 'GET', '/rules')),
      contacts: await json(api(alone, 'GET', '/subscriptions')),
      users: await json(api(alone, 'GET', '/users')),
    }
    await stop(alone)

    // The same data directory as the first node, then a second node with the cluster's server.key.
    const pgUrl = await pgi.createDatabase()
    const first = await start(dirA.path, { IOC_POSTGRES_URL: pgUrl, IOC_NODE_ID: 'node-1' })
    cpSync(join(dirA.path, 'server.key'), join(dirB.path, 'server.key'))
    const second = await start(dirB.path, { IOC_POSTGRES_URL: pgUrl, IOC_NODE_ID: 'node-2' })

    for (const gw of [first, second]) {
      expect(await json(api(gw, 'GET', '/devices/kim-long-01'))).toEqual(before.device)
      expect(await json(api(gw, 'GET', `/alerts/${alertId}`))).toEqual(before.alert)
      expect(await json(api(gw, 'GET', '/rules'))).toEqual(before.rules)
      expect(await json(api(gw, 'GET', '/users'))).toEqual(before.users)
      await waitFor(async () => JSON.stringify(await json(api(gw, 'GET', '/subscriptions'))) === JSON.stringify(before.contacts), 10_000)
    }
    // After the comparisons: a login records its time on the user.
    for (const gw of [first, second]) await logIn(gw.apiUrl, 'an', PASSWORD)
    // The device, with the secret the single gateway gave it, on the node that was never alone:
    // the level still over alarm III drives the acknowledged alert, not a new one, and the fall
    // under III lowers that alert.
    await publish(second, 5)
    await publish(first, 2.5)
    type Alert = { state: string; level: number; history: Array<{ action: string }> }
    const lowered = await waitFor(async () => {
      const a = await json<Alert>(api(second, 'GET', `/alerts/${alertId}`))
      return a.level === 2 ? a : undefined
    }, 30_000)
    expect(lowered.state).toBe('acknowledged')
    // (No SMS provider here: the contact's notifications are recorded undeliverable beside them.)
    expect(lowered.history.map((h) => h.action).filter((a) => !a.startsWith('notification_'))).toEqual([
      'opened',
      'acknowledged',
      'lowered',
    ])
    const page = await json<Page>(api(first, 'GET', '/alerts?station=kim-long'))
    expect(page.items.map((a) => a.id)).toEqual([alertId])
  }, 300_000)
})
