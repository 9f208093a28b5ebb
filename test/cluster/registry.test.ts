import { cpSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Two real gateway processes, each with its own data directory, on one PostgreSQL
// (docs/operations.md "Registry in PostgreSQL"): a device registered over the API of node A
// authenticates over MQTT on node B, and disabling it on A closes its session on B.

const ADMIN = 'cluster-registry-admin-token-0123456789'

describe.skipIf(!requirePostgres())('registry shared by two gateways', () => {
  const dirA = tempDir()
  const dirB = tempDir()
  const empty = tempDir('iocgw-no-models-')
  let pgi: PgInstance
  let a: GatewayProcess
  let b: GatewayProcess

  beforeAll(async () => {
    pgi = await startPostgres()
    const url = await pgi.createDatabase()
    const env = { IOC_ADMIN_TOKEN: ADMIN, IOC_MODELS_DIR: empty.path, IOC_MODELS_FALLBACKS: '0', IOC_POSTGRES_URL: url }
    a = await spawnGateway({ dataDir: dirA.path, env: { ...env, IOC_NODE_ID: 'node-a' } })
    // Every node hashes with the same server key: B gets A's.
    cpSync(join(dirA.path, 'server.key'), join(dirB.path, 'server.key'))
    b = await spawnGateway({ dataDir: dirB.path, env: { ...env, IOC_NODE_ID: 'node-b' } })
  }, 180_000)
  afterAll(async () => {
    if (b) await stopGateway(b)
    if (a) await stopGateway(a)
    await pgi?.stop()
    for (const d of [dirA, dirB, empty]) d.remove()
  })

  it('registers on A, authenticates on B; disabling on A closes the session on B', async () => {
    const api = (gw: GatewayProcess, method: string, path: string, body?: unknown) =>
      fetch(`${gw.apiUrl}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
    const created = await api(a, 'POST', '/devices', { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' })
    expect(created.status).toBe(201)
    const { credentials } = (await created.json()) as { credentials: { username: string; password: string } }
    // B sees it through its own API as well.
    expect((await api(b, 'GET', '/devices/kim-long-01')).status).toBe(200)

    const client = await mqtt.connectAsync(b.mqttUrl, {
      username: credentials.username,
      password: credentials.password,
      clientId: 'kim-long-01',
      reconnectPeriod: 0,
    })
    try {
      let closed = false
      client.on('close', () => (closed = true))
      await client.publishAsync('devices/kim-long-01/telemetry', JSON.stringify({ values: { water_level: 1.2 } }), { qos: 1 })
      expect((await api(a, 'PATCH', '/devices/kim-long-01', { state: 'disabled' })).status).toBe(200)
      await waitFor(() => closed, 30_000)
      // And the disabled device cannot come back on B.
      await expect(
        mqtt.connectAsync(b.mqttUrl, { username: credentials.username, password: credentials.password, reconnectPeriod: 0 }),
      ).rejects.toThrow(/Not authorized/i)
    } finally {
      await client.endAsync(true)
    }
  }, 120_000)
})
