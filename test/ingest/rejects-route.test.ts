import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApi, withDeps, type ApiApp } from '../../gateway/api/server.ts'
import { rejectRoutes } from '../../gateway/api/routes/rejects.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { DeviceRegistry } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'
import { publish, setup } from './helpers.ts'

describe('GET /api/v1/devices/:id/rejects', () => {
  const dir = tempDir()
  let registry: DeviceRegistry
  let app: ApiApp
  const tokens: Record<string, string> = {}
  const actor = { type: 'system' as const, id: 'test' }

  beforeAll(async () => {
    registry = openRegistry(dir.path)
    for (const role of ['admin', 'technician', 'officer', 'viewer'] as const)
      tokens[role] = (await registry.createToken({ role, name: role }, actor)).secret
    const { device } = await registry.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'Kim Long', station: 'kim-long' }, actor)
    await registry.createDevice({ id: 'quiet-01', kind: 'water_level', name: 'Quiet' }, actor)
    const { ingest } = setup({ registry })
    await ingest.telemetry(publish(device, '{"values": ', { raw: true }))
    await ingest.telemetry(publish(device, { values: { water_level: 9999 } }))
    const logger = createLogger('silent')
    app = await buildApi({
      registry,
      metrics: new Metrics({ defaults: false }),
      logger,
      config: { authFailuresPerMinute: 1000 },
      readiness: async () => ({}),
      routes: withDeps({ registry, ingest }, rejectRoutes),
    })
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await registry?.close()
    dir.remove()
  })

  const get = (url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} })

  it('answers the last refusals, newest first, to technicians and admins', async () => {
    for (const role of ['technician', 'admin']) {
      const res = await get('/api/v1/devices/kim-long-01/rejects', tokens[role])
      expect(res.statusCode).toBe(200)
      const body = res.json() as { items: Array<{ reason: string; message: string; topic: string }>; next: null }
      expect(body.items.map((i) => i.reason)).toEqual(['out_of_range', 'invalid_json'])
      expect(body.items[0]!.message).toMatch(/water_level 9999 m is outside the plausible range/)
      expect(body.next).toBeNull()
    }
    expect((await get('/api/v1/devices/quiet-01/rejects', tokens.technician)).json()).toEqual({ items: [], next: null })
  })
  it('refuses officers, viewers and anonymous callers', async () => {
    expect((await get('/api/v1/devices/kim-long-01/rejects', tokens.officer)).statusCode).toBe(403)
    expect((await get('/api/v1/devices/kim-long-01/rejects', tokens.viewer)).statusCode).toBe(403)
    expect((await get('/api/v1/devices/kim-long-01/rejects')).statusCode).toBe(401)
  })
  it('404 for an unknown device, 400 for an odd id', async () => {
    const nf = await get('/api/v1/devices/nobody-01/rejects', tokens.technician)
    expect(nf.statusCode).toBe(404)
    expect(nf.json()).toMatchObject({ statusCode: 404, error: 'Not Found' })
    expect((await get('/api/v1/devices/..%2Fx/rejects', tokens.technician)).statusCode).toBe(400)
  })
})
