import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mqttUrlFor } from '../../gateway/api/routes/devices.ts'
import type { RevocationEvent } from '../../gateway/registry/types.ts'
import { bearer, makeApi, type TestApi } from './support.ts'

let api: TestApi
beforeAll(async () => {
  api = await makeApi({ allRoutes: false })
})
afterAll(async () => api?.close())

/** One request to the API as `token`, with a JSON body when `payload` is given. */
const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: object) =>
  api.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) })

describe('devices', () => {
  it('registers a device and hands out credentials that authenticate, once', async () => {
    const res = await call('POST', '/api/v1/devices', api.tokens.technician, {
      id: 'wl-kim-long-1',
      kind: 'water_level',
      name: 'Trạm Kim Long',
      station: 'kim-long',
      district: 'Phú Xuân',
      location: { lat: 16.46, lon: 107.55 },
      tags: ['sông Hương'],
    })
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body.device).toMatchObject({
      id: 'wl-kim-long-1',
      kind: 'water_level',
      name: 'Trạm Kim Long',
      station: 'kim-long',
      state: 'active',
      tags: ['sông Hương'],
    })
    expect(body.credentials.username).toBe('wl-kim-long-1')
    expect(body.credentials.mqtt_url).toBe('mqtt://localhost:1883')
    expect(body.credentials.password.length).toBeGreaterThanOrEqual(22)
    expect(await api.registry.authenticateDevice('wl-kim-long-1', body.credentials.password)).toMatchObject({ ok: true })

    const shown = await call('GET', '/api/v1/devices/wl-kim-long-1', api.tokens.viewer)
    expect(shown.statusCode).toBe(200)
    expect(shown.json()).toEqual(body.device)
    expect(shown.body).not.toContain(body.credentials.password)
  })

  it('generates an id when none is given', async () => {
    const res = await call('POST', '/api/v1/devices', api.tokens.admin, { kind: 'camera', name: 'Cầu Trường Tiền' })
    expect(res.statusCode).toBe(201)
    expect(res.json().device.id).toMatch(/^[a-z0-9][a-z0-9-]{2,63}$/)
  })

  it('lists with filters and cursor paging', async () => {
    for (const [id, kind, station] of [
      ['rg-a1', 'rain_gauge', 'phu-oc'],
      ['rg-a2', 'rain_gauge', 'kim-long'],
      ['aq-a1', 'air_quality', 'kim-long'],
      ['aq-a2', 'air_quality', 'phu-oc'],
      ['wl-a1', 'water_level', 'phu-oc'],
    ] as const) {
      const r = await call('POST', '/api/v1/devices', api.tokens.technician, { id, kind, name: id, station })
      expect(r.statusCode).toBe(201)
    }
    const seen: string[] = []
    let next: string | null = null
    let pages = 0
    do {
      const r = await call('GET', `/api/v1/devices?limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`, api.tokens.officer)
      expect(r.statusCode).toBe(200)
      const page = r.json() as { items: Array<{ id: string }>; next: string | null }
      expect(page.items.length).toBeLessThanOrEqual(2)
      seen.push(...page.items.map((d) => d.id))
      next = page.next
      pages++
    } while (next && pages < 20)
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen).toEqual(expect.arrayContaining(['rg-a1', 'rg-a2', 'aq-a1', 'aq-a2', 'wl-a1', 'wl-kim-long-1']))
    expect(pages).toBeGreaterThanOrEqual(4)

    const rain = await call('GET', '/api/v1/devices?kind=rain_gauge', api.tokens.viewer)
    expect(
      rain
        .json()
        .items.map((d: { id: string }) => d.id)
        .sort(),
    ).toEqual(['rg-a1', 'rg-a2'])
    const both = await call('GET', '/api/v1/devices?kind=air_quality&station=phu-oc', api.tokens.viewer)
    expect(both.json()).toEqual({ items: [expect.objectContaining({ id: 'aq-a2' })], next: null })
  })

  it('updates, disables (closing sessions), rotates and removes, each audited with the caller', async () => {
    const revoked: RevocationEvent[] = []
    const off = api.registry.onRevocation((ev) => revoked.push(ev))
    const create = await call('POST', '/api/v1/devices', api.tokens.technician, { id: 'cam-life', kind: 'camera', name: 'old' })
    const first = create.json().credentials.password as string

    const patched = await call('PATCH', '/api/v1/devices/cam-life', api.tokens.technician, {
      name: 'Cầu Phú Xuân',
      station: null,
      tags: ['cầu'],
    })
    expect(patched.statusCode).toBe(200)
    expect(patched.json()).toMatchObject({ name: 'Cầu Phú Xuân', station: null, tags: ['cầu'] })

    const disabled = await call('PATCH', '/api/v1/devices/cam-life', api.tokens.technician, { state: 'disabled' })
    expect(disabled.json().state).toBe('disabled')
    const listed = await call('GET', '/api/v1/devices?state=disabled', api.tokens.viewer)
    expect(listed.json().items.map((d: { id: string }) => d.id)).toEqual(['cam-life'])

    const rotated = await call('POST', '/api/v1/devices/cam-life/rotate-secret', api.tokens.technician)
    expect(rotated.statusCode).toBe(200)
    const second = rotated.json().credentials.password as string
    expect(rotated.json().credentials.username).toBe('cam-life')
    expect(second).not.toBe(first)
    await call('PATCH', '/api/v1/devices/cam-life', api.tokens.technician, { state: 'active' })
    expect(await api.registry.authenticateDevice('cam-life', first)).toMatchObject({ ok: false, reason: 'bad_secret' })
    expect(await api.registry.authenticateDevice('cam-life', second)).toMatchObject({ ok: true })

    const removed = await call('DELETE', '/api/v1/devices/cam-life', api.tokens.technician)
    expect(removed.statusCode).toBe(200)
    expect(removed.json().state).toBe('decommissioned')
    const again = await call('POST', '/api/v1/devices/cam-life/rotate-secret', api.tokens.technician)
    expect(again.statusCode).toBe(409)
    off()
    expect(revoked.map((e) => e.reason)).toEqual(['disabled', 'secret_rotated', 'removed'])

    const techId = (await api.registry.listTokens({ limit: 100 })).items.find((t) => t.role === 'technician')!.id
    const audit = (await api.registry.listAudit({ limit: 100 })).items.filter((a) => a.target === 'cam-life')
    expect(audit.map((a) => a.action).sort()).toEqual([
      'device.create',
      'device.remove',
      'device.rotate_secret',
      'device.update',
      'device.update',
      'device.update',
    ])
    for (const a of audit) expect(a).toMatchObject({ actor_type: 'token', actor_id: techId })
  })
})

describe('tokens', () => {
  it('creates a token shown once, lists without secrets, deletes it so it stops working', async () => {
    const created = await call('POST', '/api/v1/tokens', api.tokens.admin, { role: 'viewer', name: 'Grafana' })
    expect(created.statusCode).toBe(201)
    const tok = created.json() as { id: string; name: string; role: string; token: string }
    expect(Object.keys(tok).sort()).toEqual(['id', 'name', 'role', 'token'])
    expect(tok).toMatchObject({ name: 'Grafana', role: 'viewer' })

    expect((await call('GET', '/api/v1/devices', tok.token)).statusCode).toBe(200)
    const list = await call('GET', '/api/v1/tokens', api.tokens.admin)
    expect(list.json().items.find((t: { id: string }) => t.id === tok.id)).toMatchObject({ name: 'Grafana', role: 'viewer' })
    expect(list.body).not.toContain(tok.token)
    for (const secret of Object.values(api.tokens)) expect(list.body).not.toContain(secret)

    const del = await call('DELETE', `/api/v1/tokens/${tok.id}`, api.tokens.admin)
    expect(del.statusCode).toBe(204)
    expect((await call('GET', '/api/v1/devices', tok.token)).statusCode).toBe(401)
    expect((await call('DELETE', `/api/v1/tokens/${tok.id}`, api.tokens.admin)).statusCode).toBe(404)
  })

  it('refuses to delete the last admin token', async () => {
    const adminId = (await api.registry.listTokens({ limit: 100 })).items.find((t) => t.role === 'admin')!.id
    const res = await call('DELETE', `/api/v1/tokens/${adminId}`, api.tokens.admin)
    expect(res.statusCode).toBe(409)
    expect(res.json().message).toMatch(/last admin token/)
  })
})

describe('mqtt_url', () => {
  it('prefers the configured public URL, else the bound host, else the host the caller used', () => {
    expect(mqttUrlFor({ host: '0.0.0.0', port: 1883, publicUrl: 'mqtts://iot.hue.gov.vn:8883' }, 'x')).toBe('mqtts://iot.hue.gov.vn:8883')
    expect(mqttUrlFor({ host: '10.0.0.5', port: 1884 }, 'api.local')).toBe('mqtt://10.0.0.5:1884')
    expect(mqttUrlFor({ host: '0.0.0.0', port: 1883 }, 'gw.local')).toBe('mqtt://gw.local:1883')
    expect(mqttUrlFor({ host: '::', port: 1883 }, '::1')).toBe('mqtt://[::1]:1883')
  })
})
