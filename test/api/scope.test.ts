import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../gateway/app.ts'
import { callApi, logIn, openEventStream, type CallOptions } from '../support/gateway-api.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { sendLevel, startAlertingGateway } from './alerting-gateway.ts'

// A district-scoped officer against the gateway as `iocgw start` wires it (docs/api.md, "Console
// sessions" and "Users"): devices and alerts of two districts, made through the API and MQTT; the
// officer's session sees and acts on its own district only, and the API refuses the other's data.

const ADMIN = `iocgw_scope-admin-${Math.random().toString(36).slice(2)}`
const PASSWORD = 'Phú Xuân trực ban 1'
const dir = tempDir('iocgw-scope-')
let gw: RunningGateway
let base: string

const call = (method: string, path: string, opts: CallOptions = {}) => callApi(base, method, path, opts)
const admin = (method: string, path: string, body?: unknown) =>
  call(method, path, { token: ADMIN, ...(body !== undefined ? { body } : {}) })
const loginAs = (username: string) => logIn(base, username, PASSWORD)

const DEVICES = [
  { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', district: 'Phú Xuân' },
  { id: 'phu-oc-01', kind: 'water_level', name: 'Trạm Phú Ốc', station: 'phu-oc', district: 'Phong Điền' },
  { id: 'cam-truong-tien', kind: 'camera', name: 'Cầu Trường Tiền', district: 'Phú Xuân' },
  { id: 'cam-phong-dien', kind: 'camera', name: 'Ngã ba Phong Điền', district: 'Phong Điền' },
]
const alertIds: Record<string, string> = {}

beforeAll(async () => {
  ;({ gw, base } = await startAlertingGateway(dir.path, ADMIN))
  const creds: Record<string, { username: string; password: string }> = {}
  for (const d of DEVICES) {
    const res = await admin('POST', '/devices', d)
    expect(res.status).toBe(201)
    creds[d.id] = res.body.credentials
  }
  // Both gauges above level I (kim-long 1.00 m, phu-oc 1.50 m in config/stations.yaml): one alert each.
  for (const [id, level] of [
    ['kim-long-01', 1.4],
    ['phu-oc-01', 1.9],
  ] as const)
    await sendLevel(gw, creds[id]!, id, level)
  await waitFor(async () => (await admin('GET', '/alerts?state=open')).body.items.length >= 2, 20_000)
  for (const a of (await admin('GET', '/alerts?state=open')).body.items as Array<{ id: string; station: string }>)
    alertIds[a.station] = a.id
  // The officer of Phú Xuân, made through the users API.
  const made = await admin('POST', '/users', { name: 'an', role: 'officer', password: PASSWORD, districts: ['Phú Xuân'] })
  expect(made.status).toBe(201)
  expect(made.body).toMatchObject({ name: 'an', role: 'officer', districts: ['Phú Xuân'], stations: [], disabled: false })
  expect(made.body).not.toHaveProperty('password')
  expect(made.body).not.toHaveProperty('password_hash')
}, 120_000)

afterAll(async () => {
  await gw?.close()
  dir.remove()
})

describe('a district-scoped officer', () => {
  it("lists only the district's devices, alerts and latest readings", async () => {
    const an = await loginAs('an')
    const devices = await call('GET', '/devices', an)
    expect(devices.status).toBe(200)
    expect(devices.body.items.map((d: { id: string }) => d.id).sort()).toEqual(['cam-truong-tien', 'kim-long-01'])
    const cameras = await call('GET', '/devices?kind=camera', an)
    expect(cameras.body.items.map((d: { id: string }) => d.id)).toEqual(['cam-truong-tien'])
    const alerts = await call('GET', '/alerts', an)
    expect(alerts.body.items.map((a: { station: string }) => a.station)).toEqual(['kim-long'])
    await waitFor(async () => (await admin('GET', '/readings/latest')).body.items.length >= 2, 20_000)
    const latest = await call('GET', '/readings/latest', an)
    expect(latest.body.items.map((i: { device: string }) => i.device)).toEqual(['kim-long-01'])
    // Tokens are not scoped.
    expect((await admin('GET', '/devices')).body.items).toHaveLength(4)
  })

  it("answers 404 for the other district's device, readings and alert", async () => {
    const an = await loginAs('an')
    expect((await call('GET', '/devices/kim-long-01', an)).status).toBe(200)
    const other = await call('GET', '/devices/phu-oc-01', an)
    expect(other.status).toBe(404)
    expect(other.body.message).toBe('device "phu-oc-01" does not exist')
    expect((await call('GET', '/devices/phu-oc-01/readings?metric=water_level', an)).status).toBe(404)
    expect((await call('GET', '/devices/kim-long-01/readings?metric=water_level', an)).status).toBe(200)
    expect((await call('GET', `/alerts/${alertIds['phu-oc']}`, an)).status).toBe(404)
    expect((await call('GET', `/alerts/${alertIds['kim-long']}`, an)).status).toBe(200)
  })

  it("cannot acknowledge or resolve the other district's alert; acknowledging its own shows the user's name", async () => {
    const an = await loginAs('an')
    const ack = await call('POST', `/alerts/${alertIds['phu-oc']}/ack`, { ...an, body: { note: 'không phải của tôi' } })
    expect(ack.status).toBe(404)
    expect((await call('POST', `/alerts/${alertIds['phu-oc']}/resolve`, { ...an, body: {} })).status).toBe(404)
    expect((await admin('GET', `/alerts/${alertIds['phu-oc']}`)).body.state).toBe('open')

    const own = await call('POST', `/alerts/${alertIds['kim-long']}/ack`, { ...an, body: { note: 'đã cử người kiểm tra' } })
    expect(own.status).toBe(200)
    const seen = await admin('GET', `/alerts/${alertIds['kim-long']}`)
    expect(seen.body.state).toBe('acknowledged')
    expect(seen.body.acknowledged).toMatchObject({ by: 'an', note: 'đã cử người kiểm tra' })
    expect(seen.body.history.at(-1)).toMatchObject({ action: 'acknowledged', by: 'an' })
    // And in the audit log, with the user's name; the refused attempt on the other alert is not there.
    const db = new Database(join(dir.path, 'registry.db'), { readonly: true })
    try {
      const rows = db
        .prepare("SELECT actor_type, actor_name, action, target FROM audit_log WHERE action LIKE 'api POST /api/v1/alerts/%'")
        .all()
      expect(rows).toEqual([
        { actor_type: 'user', actor_name: 'an', action: 'api POST /api/v1/alerts/:id/ack', target: alertIds['kim-long'] },
      ])
    } finally {
      db.close()
    }
  })
  it("receives only its district's alert changes on the event stream (cookie session)", async () => {
    const an = await loginAs('an')
    const stream = await openEventStream(base, '?readings=false', { cookie: an.cookie })
    // The other district's change first: had it been sent, it would arrive before the own one.
    expect((await admin('POST', `/alerts/${alertIds['phu-oc']}/ack`, {})).status).toBe(200)
    expect((await admin('POST', `/alerts/${alertIds['kim-long']}/resolve`, {})).status).toBe(200)
    await waitFor(() => stream.text().includes(alertIds['kim-long']!), 10_000)
    await stream.close()
    expect(stream.text()).toContain('event: alert')
    expect(stream.text()).not.toContain(alertIds['phu-oc']!)
    expect(stream.text()).not.toContain('phu-oc')
  })
})

describe('a station-scoped technician', () => {
  it("changes only its station's devices and may not move one out of its scope", async () => {
    expect((await admin('POST', '/users', { name: 'binh', role: 'technician', password: PASSWORD, stations: ['kim-long'] })).status).toBe(
      201,
    )
    const binh = await loginAs('binh')
    expect((await call('PATCH', '/devices/phu-oc-01', { ...binh, body: { name: 'đổi tên' } })).status).toBe(404)
    expect((await call('DELETE', '/devices/phu-oc-01', binh)).status).toBe(404)
    expect((await call('POST', '/devices/phu-oc-01/rotate-secret', binh)).status).toBe(404)
    expect((await call('PUT', '/devices/phu-oc-01/config', { ...binh, body: { interval_s: 60 } })).status).toBe(404)
    expect((await admin('GET', '/devices/phu-oc-01')).body.name).toBe('Trạm Phú Ốc')
    expect((await call('PATCH', '/devices/kim-long-01', { ...binh, body: { name: 'Trạm Kim Long (mới)' } })).status).toBe(200)
    expect((await call('PATCH', '/devices/kim-long-01', { ...binh, body: { station: 'phu-oc' } })).status).toBe(403)
    expect((await call('POST', '/devices', { ...binh, body: { kind: 'water_level', name: 'x', station: 'phu-oc' } })).status).toBe(403)
    expect(
      (await call('POST', '/devices', { ...binh, body: { id: 'kim-long-02', kind: 'water_level', name: 'x', station: 'kim-long' } }))
        .status,
    ).toBe(201)
    const audit = (await admin('GET', '/devices/kim-long-01')).body
    expect(audit.name).toBe('Trạm Kim Long (mới)')
  })
})

describe('the users API (admin)', () => {
  it('lists, changes, resets and disables users; each change ends their sessions', async () => {
    const list = await admin('GET', '/users')
    expect(list.status).toBe(200)
    expect(list.body.items.map((u: { name: string }) => u.name)).toEqual(expect.arrayContaining(['an', 'binh']))
    expect((await admin('POST', '/users', { name: 'an', role: 'viewer', password: PASSWORD })).status).toBe(409)
    const weak = await admin('POST', '/users', { name: 'weak', role: 'viewer', password: 'short' })
    expect(weak.status).toBe(400)
    expect(weak.body.message).toMatch(/body\/password/)
    // A user session is never an admin's way around its role.
    const an = await loginAs('an')
    expect((await call('GET', '/users', an)).status).toBe(403)

    const widened = await admin('PATCH', '/users/an', { districts: ['Phú Xuân', 'Phong Điền'] })
    expect(widened.body.districts).toEqual(['Phú Xuân', 'Phong Điền'])
    expect((await call('GET', '/devices', an)).status).toBe(401)
    const again = await loginAs('an')
    expect((await call('GET', '/devices', again)).body.items.length).toBeGreaterThanOrEqual(4)

    expect((await admin('POST', '/users/an/password', { password: 'mật khẩu mới của An' })).status).toBe(204)
    expect((await call('GET', '/devices', again)).status).toBe(401)
    const { cookie } = await logIn(base, 'an', 'mật khẩu mới của An')

    const off = await admin('PATCH', '/users/an', { disabled: true })
    expect(off.body.disabled).toBe(true)
    expect((await call('GET', '/devices', { cookie })).status).toBe(401)
    expect((await admin('PATCH', '/users/nobody', { disabled: true })).status).toBe(404)
  })
})
