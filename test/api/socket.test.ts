import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, makeApi, type TestApi } from './support.ts'

// Over a real TCP socket with fetch: what a client, a browser or Prometheus actually sees.

let api: TestApi
let base: string
let brokerUp = true

beforeAll(async () => {
  api = await makeApi({
    readiness: async () => ({
      broker: brokerUp ? { ok: true } : { ok: false, detail: 'aedes is not listening on 1883' },
      registry: { ok: true },
    }),
  })
  base = await api.app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => api?.close())

describe('API over a socket', () => {
  it('registers a device and answers with security headers', async () => {
    const res = await fetch(`${base}/api/v1/devices`, {
      method: 'POST',
      headers: { ...bearer(api.tokens.technician), 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'sock-wl-1', kind: 'water_level', name: 'Phú Ốc', station: 'phu-oc' }),
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as { credentials: { mqtt_url: string } }
    expect(body.credentials.mqtt_url).toBe('mqtt://127.0.0.1:1883')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(res.headers.get('strict-transport-security')).toBeTruthy()
    expect(res.headers.get('x-powered-by')).toBeNull()
  })

  it('refuses malformed JSON and a wrong content type in the error shape', async () => {
    const bad = await fetch(`${base}/api/v1/devices`, {
      method: 'POST',
      headers: { ...bearer(api.tokens.admin), 'content-type': 'application/json' },
      body: '{"kind": "camera",',
    })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(/not valid JSON/) })
    const form = await fetch(`${base}/api/v1/devices`, {
      method: 'POST',
      headers: { ...bearer(api.tokens.admin), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'kind=camera',
    })
    expect(form.status).toBe(415)
    expect(((await form.json()) as { message: string }).message).toMatch(/application\/json/)
  })

  it('answers 415 to a text body (fetch sends a string as text/plain), as docs/api.md says', async () => {
    for (const contentType of [undefined, 'text/plain', 'text/csv']) {
      const res = await fetch(`${base}/api/v1/devices`, {
        method: 'POST',
        headers: { ...bearer(api.tokens.admin), ...(contentType ? { 'content-type': contentType } : {}) },
        body: JSON.stringify({ id: 'sock-text-1', kind: 'water_level', name: 'Kim Long' }),
      })
      expect(res.status).toBe(415)
      expect(await res.json()).toMatchObject({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: expect.stringMatching(/application\/json/),
      })
    }
    expect(await api.registry.getDevice('sock-text-1')).toBeUndefined()
  })

  it('never logs a credential passed in a query string', async () => {
    const res = await fetch(`${base}/api/v1/devices?limit=5&access_token=${api.tokens.viewer}&token=${api.tokens.admin}`, {
      headers: bearer(api.tokens.viewer),
    })
    expect(res.status).toBeLessThan(500)
    const lines = api.logs.filter((l) => l.includes('limit=5'))
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.join('\n')).toContain('access_token=[redacted]')
    for (const t of Object.values(api.tokens)) expect(api.logs.join('\n')).not.toContain(t)
  })

  it('serves health, readiness with per-component detail, and metrics to a token holder', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' })
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    brokerUp = false
    const down = await fetch(`${base}/readyz`)
    expect(down.status).toBe(503)
    expect(await down.json()).toEqual({
      status: 'not_ready',
      checks: { broker: { ok: false, detail: 'aedes is not listening on 1883' }, registry: { ok: true } },
    })
    brokerUp = true

    expect((await fetch(`${base}/metrics`)).status).toBe(401)
    const m = await fetch(`${base}/metrics`, { headers: bearer(api.tokens.viewer) })
    expect(m.status).toBe(200)
    expect(m.headers.get('content-type')).toMatch(/^text\/plain/)
  })

  it('counts refusals and requests by route pattern in /metrics', async () => {
    await fetch(`${base}/api/v1/devices/sock-wl-1`, { headers: bearer(api.tokens.viewer) })
    await fetch(`${base}/api/v1/devices/nope-404`, { headers: bearer('iocgw_wrong') })
    await fetch(`${base}/api/v1/devices`, {
      method: 'POST',
      headers: { ...bearer(api.tokens.viewer), 'content-type': 'application/json' },
      body: '{}',
    })
    await fetch(`${base}/api/v1/devices/A`, { headers: bearer(api.tokens.viewer) })
    await fetch(`${base}/nowhere`)
    const text = await (await fetch(`${base}/metrics`, { headers: bearer(api.tokens.viewer) })).text()
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"/]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
    expect(value('iocgw_http_auth_refused_total{reason="missing"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_auth_refused_total{reason="invalid"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_auth_refused_total{reason="forbidden"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_rejected_total{reason="json"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_rejected_total{reason="validation"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_rejected_total{reason="no_route"}')).toBeGreaterThanOrEqual(1)
    expect(value('iocgw_http_requests_total{method="GET",route="/api/v1/devices/:id",status="200"}')).toBeGreaterThanOrEqual(1)
    // Label values hold route patterns only, never an id from a URL.
    expect(text).not.toContain('sock-wl-1')
    expect(text).not.toContain('nope-404')
  })

  it('publishes the OpenAPI document with the bearer scheme and every route', async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
      components: { securitySchemes: Record<string, unknown> }
      paths: Record<string, Record<string, { security?: unknown[]; description?: string }>>
    }
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' })
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/devices',
        '/api/v1/devices/{id}',
        '/api/v1/devices/{id}/rotate-secret',
        '/api/v1/tokens',
        '/healthz',
        '/metrics',
      ]),
    )
    expect(doc.paths['/healthz']!.get!.security).toEqual([])
    expect(doc.paths['/api/v1/tokens']!.post!.description).toMatch(/Roles: admin/)
    const ui = await fetch(`${base}/docs`)
    expect(ui.status).toBe(200)
    expect(await ui.text()).toContain('swagger')
  })
})
