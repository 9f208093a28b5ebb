import { execFileSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, logIn } from '../support/gateway-api.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { PG_BIN, requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'

// docs/operations.md "Backups of a cluster": what the nodes share is PostgreSQL's, so a dump taken
// with pg_dump while a node runs, restored with pg_restore into an empty database, is the cluster
// again for a node started on it with the cluster's server.key: the same devices with their
// original secrets, users with their passwords, rules, contacts, and alerts with their history.

const ADMIN = 'cluster-backup-admin-token-0123456789'
const PASSWORD = 'mật-khẩu-trực-ban-2026'

describe.skipIf(!requirePostgres())('a cluster restored from a pg_dump of its PostgreSQL', () => {
  const dirA = tempDir()
  const dirB = tempDir()
  const dumps = tempDir('iocgw-pg-dump-')
  const empty = tempDir('iocgw-no-models-')
  let pgi: PgInstance
  let a: GatewayProcess | undefined
  let b: GatewayProcess | undefined
  const env = { IOC_ADMIN_TOKEN: ADMIN, IOC_MODELS_DIR: empty.path, IOC_MODELS_FALLBACKS: '0' }
  const api = (gw: GatewayProcess, method: string, path: string, body?: unknown) =>
    fetch(`${gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
  const json = async <T>(res: Promise<Response>): Promise<T> => (await (await res).json()) as T

  beforeAll(async () => {
    pgi = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    if (b) await stopGateway(b)
    if (a) await stopGateway(a)
    await pgi?.stop()
    for (const d of [dirA, dirB, dumps, empty]) d.remove()
  })

  it('answers as the cluster did when the dump was taken', async () => {
    const url = await pgi.createDatabase('live')
    a = await spawnGateway({ dataDir: dirA.path, env: { ...env, IOC_POSTGRES_URL: url, IOC_NODE_ID: 'node-a' } })
    const gwA = a
    const rules = { version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }
    expect((await api(gwA, 'PUT', '/rules', rules)).status).toBe(200)
    const made = await api(gwA, 'POST', '/devices', { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' })
    expect(made.status).toBe(201)
    const { credentials } = (await made.json()) as { credentials: { username: string; password: string } }
    expect((await api(gwA, 'POST', '/users', { name: 'an', role: 'officer', password: PASSWORD })).status).toBe(201)
    expect(
      (await api(gwA, 'POST', '/subscriptions', { name: 'Trực ban', phone: '0905123456', role: 'officer', channels: ['sms'] })).status,
    ).toBe(201)
    const device = await connectDevice(gwA.mqttUrl, credentials)
    try {
      await device.publishAsync('devices/kim-long-01/telemetry', JSON.stringify({ values: { water_level: 5 } }), { qos: 1 })
    } finally {
      await device.endAsync(true)
    }
    type Page = { items: Array<{ id: string }> }
    const alertId = await waitFor(async () => (await json<Page>(api(gwA, 'GET', '/alerts?station=kim-long'))).items[0]?.id, 30_000)
    expect((await api(gwA, 'POST', `/alerts/${alertId}/ack`, { note: 'Đã báo trực ban' })).status).toBe(200)
    const before = {
      device: await json(api(gwA, 'GET', '/devices/kim-long-01')),
      alert: await json(api(gwA, 'GET', `/alerts/${alertId}`)),
      rules: await json(api(gwA, 'GET', '/rules')),
      contacts: await json(api(gwA, 'GET', '/subscriptions')),
      users: await json(api(gwA, 'GET', '/users')),
    }

    // Taken while node A runs: pg_dump reads one snapshot of the database.
    const file = join(dumps.path, 'iocgw.dump')
    execFileSync(join(PG_BIN, 'pg_dump'), ['-Fc', '-f', file, '-d', url], { stdio: 'pipe' })
    await stopGateway(gwA)
    a = undefined

    const restored = await pgi.createDatabase('restored')
    execFileSync(join(PG_BIN, 'pg_restore'), ['--exit-on-error', '-d', restored, file], { stdio: 'pipe' })
    // The node on the restored database hashes with the cluster's server.key (docs/operations.md "Server key").
    cpSync(join(dirA.path, 'server.key'), join(dirB.path, 'server.key'))
    b = await spawnGateway({ dataDir: dirB.path, env: { ...env, IOC_POSTGRES_URL: restored, IOC_NODE_ID: 'node-b' } })
    const gwB = b

    expect(await json(api(gwB, 'GET', '/devices/kim-long-01'))).toEqual(before.device)
    expect(await json(api(gwB, 'GET', `/alerts/${alertId}`))).toEqual(before.alert)
    expect(await json(api(gwB, 'GET', '/rules'))).toEqual(before.rules)
    expect(await json(api(gwB, 'GET', '/subscriptions'))).toEqual(before.contacts)
    expect(await json(api(gwB, 'GET', '/users'))).toEqual(before.users)
    await logIn(gwB.apiUrl, 'an', PASSWORD)
    // The device comes back with the secret it was given before the backup.
    const again = await connectDevice(gwB.mqttUrl, credentials)
    await again.endAsync(true)
  }, 240_000)
})
