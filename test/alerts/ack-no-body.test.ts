import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlerting, type Alerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { alertRoutes } from '../../gateway/api/routes/alerts.ts'
import { buildApi, withDeps } from '../../gateway/api/server.ts'
import type { ApiApp } from '../../gateway/api/types.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { tempDir } from '../support/services.ts'
import { GatewayBus, gauge, metrics, quietLogger, stations } from './helpers.ts'

// `POST /alerts/:id/ack` and `/resolve` take an optional note (docs/api.md, "Alerts"): a request
// with no body at all, as `curl -X POST` sends it, must act, not answer 400. Over real HTTP.

describe('acknowledge and resolve without a body', () => {
  const dir = tempDir()
  let registry: ReturnType<typeof openRegistry>
  let alerting: Alerting
  let api: ApiApp
  let base: string
  let officer: string

  beforeAll(async () => {
    registry = openRegistry(dir.path)
    alerting = createAlerting({
      bus: new GatewayBus(),
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      rules: parseRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }),
    })
    api = await buildApi({
      registry,
      metrics: metrics(),
      logger: quietLogger(),
      config: { authFailuresPerMinute: 1000 },
      readiness: async () => ({}),
      routes: withDeps({ alerting }, alertRoutes),
    })
    await api.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}/api/v1`
    officer = (await registry.createToken({ role: 'officer', name: 'Trực ban' }, { type: 'system', id: 't' })).secret
  })
  afterAll(async () => {
    await api?.close()
    await alerting?.close()
    await registry?.close()
    dir.remove()
  })

  /** Opens a fresh alert at a station of config/stations.yaml; answers its id. */
  async function openAlert(station: string): Promise<string> {
    await alerting.handleReading(gauge(station, Date.now(), 70))
    const page = await alerting.list({ state: 'open', station }, { limit: 1 })
    return page.items[0]!.id
  }

  const post = (path: string, init: { body?: string; contentType?: string } = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officer}`, ...(init.contentType ? { 'content-type': init.contentType } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
    })

  it('acknowledges with no body and no content-type, then resolves the same way', async () => {
    const id = await openAlert('kim-long')
    const ack = await post(`/alerts/${id}/ack`)
    expect(ack.status).toBe(200)
    expect(((await ack.json()) as { state: string }).state).toBe('acknowledged')
    const res = await post(`/alerts/${id}/resolve`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { state: string }).state).toBe('resolved')
  })

  it('takes an empty JSON body, {} and a note alike; still refuses what is not a note', async () => {
    const a = await openAlert('phu-oc')
    expect((await post(`/alerts/${a}/ack`, { contentType: 'application/json', body: '' })).status).toBe(200)
    const b = await openAlert('thuong-nhat')
    expect((await post(`/alerts/${b}/ack`, { contentType: 'application/json', body: '{}' })).status).toBe(200)
    const withNote = await post(`/alerts/${b}/resolve`, { contentType: 'application/json', body: JSON.stringify({ note: 'Nước đã rút' }) })
    expect(withNote.status).toBe(200)
    const bad = await post(`/alerts/${a}/resolve`, { contentType: 'application/json', body: JSON.stringify({ notes: 'typo' }) })
    expect(bad.status).toBe(400)
  })
})
