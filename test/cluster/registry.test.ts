import { cpSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, type NewDevice } from '../support/gateway-api.ts'
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
  const api = (gw: GatewayProcess, method: string, path: string, body?: unknown) =>
    fetch(`${gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })

  /** Registers `device` through A's API; answers its MQTT credentials. */
  const registerOnA = async (device: NewDevice) => {
    const created = await api(a, 'POST', '/devices', device)
    expect(created.status).toBe(201)
    return ((await created.json()) as { credentials: { username: string; password: string } }).credentials
  }

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
    // Without InfluxDB each node stores what reaches it in its own timeseries.db, and says so (docs/operations.md "Several nodes").
    for (const gw of [a, b])
      expect(gw.output()).toMatch(/cluster mode without InfluxDB: this node keeps the readings it receives in its own timeseries.db/)
    const credentials = await registerOnA({ id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' })
    // B sees it through its own API as well.
    expect((await api(b, 'GET', '/devices/kim-long-01')).status).toBe(200)

    const client = await connectDevice(b.mqttUrl, credentials)
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
  // docs/operations.md "Alerts in PostgreSQL": an alert opened on the node the device talks to is
  // listed and acknowledged through the other node's API.
  it('an alert opened on B is listed on A, and acknowledged on A it shows acknowledged on B', async () => {
    // Rules are one document for both nodes (docs/operations.md "Rules across nodes"): B opens at once.
    const rules = { version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }
    expect((await api(b, 'PUT', '/rules', rules)).status).toBe(200)
    const credentials = await registerOnA({ id: 'phu-oc-01', kind: 'water_level', name: 'Trạm Phú Ốc', station: 'phu-oc' })
    const client = await connectDevice(b.mqttUrl, credentials)
    try {
      await client.publishAsync('devices/phu-oc-01/telemetry', JSON.stringify({ values: { water_level: 5 } }), { qos: 1 })
    } finally {
      await client.endAsync(true)
    }
    type Page = { items: Array<{ id: string; state: string; station?: string }> }
    let id = ''
    await waitFor(async () => {
      const page = (await (await api(a, 'GET', '/alerts?station=phu-oc')).json()) as Page
      id = page.items[0]?.id ?? ''
      return id !== ''
    }, 30_000)
    expect((await api(a, 'POST', `/alerts/${id}/ack`, { note: 'Trực ban A' })).status).toBe(200)
    const onB = (await (await api(b, 'GET', `/alerts/${id}`)).json()) as { state: string; history: Array<{ action: string }> }
    expect(onB.state).toBe('acknowledged')
    expect(onB.history.map((h) => h.action)).toEqual(['opened', 'acknowledged'])
  }, 120_000)

  // docs/operations.md "Rules across nodes": a PUT through one node is the rules of the other.
  it('rules replaced through A are answered by B', async () => {
    const rules = { version: 1, rules: [{ id: 'rain-1h', type: 'rainfall', window_s: 3600, thresholds_mm: [31, 51, 101] }] }
    const put = await api(a, 'PUT', '/rules', rules)
    expect(put.status).toBe(200)
    const answered = await put.json()
    const onB = await waitFor(async () => {
      const got = (await (await api(b, 'GET', '/rules')).json()) as { rules: Array<{ id: string }> }
      return got.rules[0]?.id === 'rain-1h' ? got : undefined
    }, 30_000)
    expect(onB).toEqual(answered)
  }, 60_000)

  it('a contact added through A is listed by B, changed through B and removed through A (docs/operations.md "Contacts across nodes")', async () => {
    const phones = async (gw: GatewayProcess) =>
      ((await (await api(gw, 'GET', '/subscriptions')).json()) as { items: Array<{ id: string; phone?: string }> }).items
    const made = await api(a, 'POST', '/subscriptions', {
      name: 'Trực ban Kim Long',
      phone: '0905123456',
      role: 'officer',
      channels: ['sms'],
    })
    expect(made.status).toBe(201)
    const { id } = (await made.json()) as { id: string }
    await waitFor(async () => (await phones(b)).some((c) => c.id === id), 10_000, 50)
    expect((await api(b, 'PATCH', `/subscriptions/${id}`, { phone: '0905999999' })).status).toBe(200)
    await waitFor(async () => (await phones(a)).find((c) => c.id === id)?.phone === '0905999999', 10_000, 50)
    expect((await api(a, 'DELETE', `/subscriptions/${id}`)).status).toBe(204)
    await waitFor(async () => !(await phones(b)).some((c) => c.id === id), 10_000, 50)
  }, 60_000)

  // docs/operations.md "Webhooks across nodes": a subscription made through A is told of what B queues, once.
  it('a webhook subscribed through A is told of a device going offline on B', async () => {
    const keys: string[] = []
    const rx = createServer((req, res) => {
      keys.push(String(req.headers['x-ioc-delivery']))
      req.resume()
      res.writeHead(204).end()
    })
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`
      const made = await api(a, 'POST', '/webhooks', { url, events: ['device.offline'] })
      expect(made.status).toBe(201)
      const { webhook } = (await made.json()) as { webhook: { id: string } }
      const credentials = await registerOnA({ id: 'kim-long-02', kind: 'water_level', name: 'Trạm Kim Long 2', station: 'kim-long' })
      const client = await connectDevice(b.mqttUrl, credentials)
      try {
        await client.publishAsync('devices/kim-long-02/status', JSON.stringify({ online: false, ts: '2026-12-01T00:00:00Z' }), { qos: 1 })
      } finally {
        await client.endAsync(true)
      }
      const key = `device.kim-long-02.offline.${Date.parse('2026-12-01T00:00:00Z')}`
      // Recorded delivered in the shared log, which B's API lists too.
      await waitFor(
        async () => {
          const log = (await (await api(b, 'GET', `/webhooks/${webhook.id}/deliveries`)).json()) as {
            items: Array<{ key: string; state: string }>
          }
          return log.items.find((d) => d.key === key)?.state === 'delivered'
        },
        30_000,
        50,
      )
      expect(keys.filter((k) => k === key)).toHaveLength(1)
    } finally {
      rx.closeAllConnections()
      await new Promise<void>((r) => rx.close(() => r()))
    }
  }, 60_000)
})
