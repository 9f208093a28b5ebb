import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../gateway/app.ts'
import { callApi, logIn, type CallOptions, type Session } from '../support/gateway-api.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from '../notify/standins.ts'
import { sendLevel, startAlertingGateway } from './alerting-gateway.ts'

// Notification contacts and the outbox for a scoped officer (docs/api.md "Authentication and
// roles", "Rules and subscriptions", "Notifications"), against the gateway as `iocgw start` wires
// it, with the local eSMS stand-in as the SMS provider. Tokens are not scoped (docs/api.md), so
// the scoped caller is a user's cookie session; an officer token is shown to see every contact.

const ADMIN = `iocgw_scope-notify-${Math.random().toString(36).slice(2)}`
const PASSWORD = 'Phú Xuân trực ban 1'
const dir = tempDir('iocgw-scope-notify-')
let gw: RunningGateway
let prov: StandIns
let base: string

const call = (method: string, path: string, opts: CallOptions = {}) => callApi(base, method, path, opts)
const admin = (method: string, path: string, body?: unknown) =>
  call(method, path, { token: ADMIN, ...(body !== undefined ? { body } : {}) })
let an: Session
const ids: Record<string, string> = {}
const alertIds: Record<string, string> = {}

beforeAll(async () => {
  prov = await startStandIns()
  ;({ gw, base } = await startAlertingGateway(dir.path, ADMIN, { notify: standInConfig(prov) }))
  const contacts = {
    kl: { name: 'Kim Long', phone: '0905000001', role: 'officer', stations: ['kim-long'], channels: ['sms'] },
    po: { name: 'Phú Ốc', phone: '0905000002', role: 'officer', stations: ['phu-oc'], channels: ['sms'] },
    px: { name: 'Phú Xuân', phone: '0905000003', role: 'officer', districts: ['Phú Xuân'], channels: ['sms'] },
    all: { name: 'Tỉnh', phone: '0905000004', role: 'admin', channels: ['sms'] },
  }
  for (const [k, c] of Object.entries(contacts)) {
    const res = await admin('POST', '/subscriptions', c)
    expect(res.status).toBe(201)
    ids[k] = res.body.id
  }
  for (const d of [
    { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', district: 'Phú Xuân' },
    { id: 'phu-oc-01', kind: 'water_level', name: 'Trạm Phú Ốc', station: 'phu-oc', district: 'Phong Điền' },
  ]) {
    const res = await admin('POST', '/devices', d)
    expect(res.status).toBe(201)
    await sendLevel(gw, res.body.credentials, d.id, d.station === 'kim-long' ? 1.4 : 1.9)
  }
  await waitFor(async () => (await admin('GET', '/notifications?state=sent')).body.items.length >= 4, 20_000)
  for (const a of (await admin('GET', '/alerts')).body.items as Array<{ id: string; station: string }>) alertIds[a.station] = a.id
  expect(
    (await admin('POST', '/users', { name: 'an', role: 'officer', password: PASSWORD, districts: ['Phú Xuân'], stations: ['kim-long'] }))
      .status,
  ).toBe(201)
  an = await logIn(base, 'an', PASSWORD)
}, 120_000)

afterAll(async () => {
  await gw?.close()
  await prov?.close()
  dir.remove()
})

describe('notifications for a scoped officer', () => {
  it('lists only the contacts of its places; a token sees every contact', async () => {
    const mine = await call('GET', '/subscriptions', an)
    expect(mine.status).toBe(200)
    expect(mine.body.items.map((c: { id: string }) => c.id).sort()).toEqual([ids.kl, ids.px].sort())
    expect((await admin('GET', '/subscriptions')).body.items).toHaveLength(4)
    const officerToken = (await admin('POST', '/tokens', { role: 'officer', name: 'phòng trực ban' })).body.token as string
    expect((await call('GET', '/subscriptions', { token: officerToken })).body.items).toHaveLength(4)
  })

  it("answers 404 for another place's contact on test, PATCH and DELETE; 403 for a contact outside its places", async () => {
    for (const id of [ids.po, ids.all]) {
      expect((await call('POST', '/notify/test', { ...an, body: { contact: id } })).status).toBe(404)
      expect((await call('PATCH', `/subscriptions/${id}`, { ...an, body: { name: 'x' } })).status).toBe(404)
      expect((await call('DELETE', `/subscriptions/${id}`, an)).status).toBe(404)
    }
    expect((await admin('GET', '/subscriptions')).body.items).toHaveLength(4)
    const outside = await call('POST', '/subscriptions', {
      ...an,
      body: { name: 'Ngoài', phone: '0905000009', role: 'officer', stations: ['phu-oc'], channels: ['sms'] },
    })
    expect(outside.status).toBe(403)
    expect(outside.body.message).toContain('may only keep contacts of districts Phú Xuân or stations kim-long')
    expect(
      (await call('POST', '/subscriptions', { ...an, body: { name: 'Mọi nơi', phone: '0905000009', role: 'officer', channels: ['sms'] } }))
        .status,
    ).toBe(403)
    expect((await call('PATCH', `/subscriptions/${ids.kl}`, { ...an, body: { stations: ['kim-long', 'phu-oc'] } })).status).toBe(403)
    expect((await call('PATCH', `/subscriptions/${ids.kl}`, { ...an, body: { stations: null } })).status).toBe(403)
  })

  it('edits, tests and removes its own contacts', async () => {
    const patched = await call('PATCH', `/subscriptions/${ids.kl}`, {
      ...an,
      body: { name: 'Trực ban Kim Long', quiet_hours: { from: '22:00', to: '06:00' } },
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({
      id: ids.kl,
      name: 'Trực ban Kim Long',
      stations: ['kim-long'],
      quiet_hours: { from: '22:00', to: '06:00', bypass: 'critical' },
    })
    expect(
      (await call('PATCH', `/subscriptions/${ids.kl}`, { ...an, body: { quiet_hours: { from: '22:00', to: '22:00' } } })).body.message,
    ).toContain('body/quiet_hours')
    const test = await call('POST', '/notify/test', { ...an, body: { contact: ids.kl } })
    expect(test.status).toBe(200)
    expect(test.body.results).toEqual([{ channel: 'sms', ok: true }])
    expect(prov.delivered('esms').some((r) => r.body.Phone === '0905000001' && String(r.body.Content).includes('Tin nhan thu'))).toBe(true)
    const made = await call('POST', '/subscriptions', {
      ...an,
      body: { name: 'Phó ban', phone: '0905000005', role: 'officer', stations: ['kim-long'], channels: ['sms'] },
    })
    expect(made.status).toBe(201)
    expect((await call('DELETE', `/subscriptions/${made.body.id}`, an)).status).toBe(204)
  })

  it("lists only messages about alerts of its places, with the provider's answer; filters and pages", async () => {
    const all = (await admin('GET', '/notifications?limit=500')).body.items as Array<{ alert_id: string | null; contact: { id: string } }>
    expect(all.some((m) => m.alert_id === alertIds['phu-oc'])).toBe(true)
    const mine = await call('GET', '/notifications?limit=500', an)
    expect(mine.status).toBe(200)
    expect(mine.body.items.length).toBeGreaterThan(0)
    expect(new Set(mine.body.items.map((m: { alert_id: string }) => m.alert_id))).toEqual(new Set([alertIds['kim-long']]))
    const sent = await call('GET', `/notifications?state=sent&channel=sms&contact=${ids.kl}&alert=${alertIds['kim-long']}`, an)
    expect(sent.body.items).toHaveLength(1)
    expect(sent.body.items[0]).toMatchObject({
      contact: { id: ids.kl },
      channel: 'sms',
      state: 'sent',
      kind: 'alert',
      attempts: 1,
      next_attempt_at: null,
    })
    expect(sent.body.items[0].provider_answer).toBe(`accepted (${sent.body.items[0].provider_message_id})`)
    expect(sent.body.items[0].text).toContain('Kim Long')
    expect(sent.body.items[0]).not.toHaveProperty('phone')
    const p1 = (await admin('GET', '/notifications?limit=2')).body
    const p2 = (await admin('GET', `/notifications?limit=2&cursor=${p1.next}`)).body
    expect(p2.items[0].id).toBeLessThan(p1.items[1].id)
    expect((await admin('GET', '/notifications?state=nope')).status).toBe(400)
  })
})
