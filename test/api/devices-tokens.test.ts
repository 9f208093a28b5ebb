import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mqttUrlFor } from '../../gateway/api/routes/devices.ts'
import type { RevocationEvent } from '../../gateway/registry/types.ts'
import { bearer, makeApi, type TestApi } from './support.ts'

let api: TestApi
beforeAll(async () => {
  api = await makeApi({ allRoutes: false })
})
afterAll(async () => api?.close())

const as = (token: string) => ({ ...bearer(token) })

describe('devices', () => {
  it('registers a device and hands out credentials that authenticate, once', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: as(api.tokens.technician),
      payload: {
        id: 'wl-kim-long-1',
        kind: 'water_level',
        name: 'Trạm Kim Long',
        station: 'kim-long',
        district: 'Phú Xuân',
        location: { lat: 16.46, lon: 107.55 },
        tags: ['sông Hương'],
      },
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

    const shown = await api.app.inject({ method: 'GET', url: '/api/v1/devices/wl-kim-long-1', headers: as(api.tokens.viewer) })
    expect(shown.statusCode).toBe(200)
    expect(shown.json()).toEqual(body.device)
    expect(shown.body).not.toContain(body.credentials.password)
  })

  it('generates an id when none is given', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: as(api.tokens.admin),
      payload: { kind: 'camera', name: 'Cầu Trường Tiền' },
    })
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
      const r = await api.app.inject({
        method: 'POST',
        url: '/api/v1/devices',
        headers: as(api.tokens.technician),
        payload: { id, kind, name: id, station },
      })
      expect(r.statusCode).toBe(201)
    }
    const seen: string[] = []
    let next: string | null = null
    let pages = 0
    do {
      const r = await api.app.inject({
        method: 'GET',
        url: `/api/v1/devices?limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`,
        headers: as(api.tokens.officer),
      })
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

    const rain = await api.app.inject({ method: 'GET', url: '/api/v1/devices?kind=rain_gauge', headers: as(api.tokens.viewer) })
    expect(
      rain
        .json()
        .items.map((d: { id: string }) => d.id)
        .sort(),
    ).toEqual(['rg-a1', 'rg-a2'])
    const both = await api.app.inject({
      method: 'GET',
      url: '/api/v1/devices?kind=air_quality&station=phu-oc',
      headers: as(api.tokens.viewer),
    })
    expect(both.json()).toEqual({ items: [expect.objectContaining({ id: 'aq-a2' })], next: null })
  })

  it('updates, disables (closing sessions), rotates and removes, each audited with the caller', async () => {
    const revoked: RevocationEvent[] = []
    const off = api.registry.onRevocation((ev) => revoked.push(ev))
    const create = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: as(api.tokens.technician),
      payload: { id: 'cam-life', kind: 'camera', name: 'old' },
    })
    const first = create.json().credentials.password as string

    const patched = await api.app.inject({
      method: 'PATCH',
      url: '/api/v1/devices/cam-life',
      headers: as(api.tokens.technician),
      payload: { name: 'Cầu Phú Xuân', station: null, tags: ['cầu'] },
    })
    expect(patched.statusCode).toBe(200)
    expect(patched.json()).toMatchObject({ name: 'Cầu Phú Xuân', station: null, tags: ['cầu'] })

    const disabled = await api.app.inject({
      method: 'PATCH',
      url: '/api/v1/devices/cam-life',
      headers: as(api.tokens.technician),
      payload: { state: 'disabled' },
    })
    expect(disabled.json().state).toBe('disabled')
    const listed = await api.app.inject({ method: 'GET', url: '/api/v1/devices?state=disabled', headers: as(api.tokens.viewer) })
    expect(listed.json().items.map((d: { id: string }) => d.id)).toEqual(['cam-life'])

    const rotated = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices/cam-life/rotate-secret',
      headers: as(api.tokens.technician),
    })
    expect(rotated.statusCode).toBe(200)
    const second = rotated.json().credentials.password as string
    expect(rotated.json().credentials.username).toBe('cam-life')
    expect(second).not.toBe(first)
    await api.app.inject({
      method: 'PATCH',
      url: '/api/v1/devices/cam-life',
      headers: as(api.tokens.technician),
      payload: { state: 'active' },
    })
    expect(await api.registry.authenticateDevice('cam-life', first)).toMatchObject({ ok: false, reason: 'bad_secret' })
    expect(await api.registry.authenticateDevice('cam-life', second)).toMatchObject({ ok: true })

    const removed = await api.app.inject({ method: 'DELETE', url: '/api/v1/devices/cam-life', headers: as(api.tokens.technician) })
    expect(removed.statusCode).toBe(200)
    expect(removed.json().state).toBe('decommissioned')
    const again = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices/cam-life/rotate-secret',
      headers: as(api.tokens.technician),
    })
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
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: as(api.tokens.admin),
      payload: { role: 'viewer', name: 'Grafana' },
    })
    expect(created.statusCode).toBe(201)
    const tok = created.json() as { id: string; name: string; role: string; token: string }
    expect(Object.keys(tok).sort()).toEqual(['id', 'name', 'role', 'token'])
    expect(tok).toMatchObject({ name: 'Grafana', role: 'viewer' })

    expect((await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: as(tok.token) })).statusCode).toBe(200)
    const list = await api.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: as(api.tokens.admin) })
    expect(list.json().items.find((t: { id: string }) => t.id === tok.id)).toMatchObject({ name: 'Grafana', role: 'viewer' })
    expect(list.body).not.toContain(tok.token)
    for (const secret of Object.values(api.tokens)) expect(list.body).not.toContain(secret)

    const del = await api.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tok.id}`, headers: as(api.tokens.admin) })
    expect(del.statusCode).toBe(204)
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: as(tok.token) })).statusCode).toBe(401)
    expect((await api.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tok.id}`, headers: as(api.tokens.admin) })).statusCode).toBe(
      404,
    )
  })

  it('refuses to delete the last admin token', async () => {
    const adminId = (await api.registry.listTokens({ limit: 100 })).items.find((t) => t.role === 'admin')!.id
    const res = await api.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${adminId}`, headers: as(api.tokens.admin) })
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
