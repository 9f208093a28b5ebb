import { describe, expect, it } from 'vitest'
import type { Notifier } from '../../gateway/notify/notifier.ts'
import { clock, gauge } from '../alerts/helpers.ts'
import { useNotifyEngines, WATER_RULE } from './engines.ts'

// A contact's own quiet hours (docs/notify.md "Quiet hours"): a real notifier and alerting engine
// on one alerts.db, the local eSMS stand-in, and an injected clock instead of waiting for the night.

const EVENING = Date.parse('2026-11-20T14:50:00Z') // 21:50 in Huế, before the contact's quiet hours
const NIGHT = Date.parse('2026-11-20T16:30:00Z') // 23:30 in Huế
const MORNING = Date.parse('2026-11-20T23:00:00Z') // 06:00 in Huế: the quiet hours end

/** An officer told by SMS, with quiet hours from 22:00 to 06:00 (their bypass left to the default). */
const nightlyQuiet = (n: Notifier, name: string, phone: string) =>
  n.contacts.create({ name, phone, role: 'officer', channels: ['sms'], quiet_hours: { from: '22:00', to: '06:00' } })

describe('per-contact quiet hours', () => {
  const engines = useNotifyEngines()

  it('defers what is below the bypass until the end, sends critical at once, skips what was resolved meanwhile', async () => {
    const clk = clock(EVENING)
    const { notifier: n, alerting: a, prov } = engines.start({ now: clk.now })
    const sleeper = await nightlyQuiet(n, 'Ngủ', '0905000001')
    expect(sleeper.quiet_hours).toEqual({ from: '22:00', to: '06:00', bypass: 'critical' })
    await n.contacts.create({ name: 'Trực', phone: '0905000002', role: 'officer', channels: ['sms'] })
    const to = (phone: string) =>
      prov
        .delivered('esms')
        .filter((r) => r.body.Phone === phone)
        .map((r) => String(r.body.Content))

    // 21:50: rain at Cổ Bi, told to both before the quiet hours.
    await a.handleReading({
      device: 'co-bi-rain',
      kind: 'rain_gauge',
      station: 'co-bi',
      district: null,
      ts: EVENING,
      seq: null,
      values: { rainfall: 5 },
      late: false,
    })
    await n.drain()
    expect(to('0905000001')).toHaveLength(1)

    // 23:30: level I at Kim Long (deferred), level III at Phú Ốc (critical: now), level I at Thượng
    // Nhật opened and resolved in the night, and the Cổ Bi rain resolved in the night.
    clk.set(NIGHT)
    await a.handleReading(gauge('kim-long', NIGHT, 1.5))
    await a.handleReading(gauge('phu-oc', NIGHT, 5))
    await a.handleReading(gauge('thuong-nhat', NIGHT, 60))
    await n.drain()
    const open = async (station: string) => (await a.list({ station }, { limit: 1 })).items[0]!
    await a.resolve((await open('thuong-nhat')).id, 'Trực')
    await a.resolve((await open('co-bi')).id, 'Trực')
    await n.drain()
    expect(to('0905000001')).toEqual([expect.stringContaining('MUA'), expect.stringContaining('BAO DONG III Phu Oc')])
    expect(to('0905000002').length).toBeGreaterThanOrEqual(6) // no quiet hours: everything at once
    const deferred = await n.outbox({ state: 'deferred' })
    expect(deferred.map((r) => r.contact_id)).toEqual(Array(deferred.length).fill(sleeper.id))
    expect(deferred.length).toBe(4) // Kim Long, Thượng Nhật opened + resolved, Cổ Bi resolved
    expect(new Set(deferred.map((r) => r.next_at))).toEqual(new Set([MORNING]))
    expect(deferred[0]!.last_error).toContain('quiet hours 22:00-06:00')

    // 06:00:01: the quiet hours are over.
    clk.set(MORNING + 1000)
    await n.drain()
    const morning = to('0905000001').slice(2)
    expect(morning).toHaveLength(2)
    expect(morning.some((t) => t.includes('Kim Long'))).toBe(true) // still open: sent as written
    expect(morning.some((t) => t.includes('Co Bi'))).toBe(true) // told of its opening: hears that it ended
    const skipped = await n.outbox({ state: 'skipped' })
    expect(skipped).toHaveLength(2)
    const thuongNhat = (await open('thuong-nhat')).id
    expect(skipped.every((r) => r.alert_id === thuongNhat && r.contact_id === sleeper.id)).toBe(true)
    expect(skipped[0]!.last_error).toMatch(/alert resolved at .* during the contact's quiet hours; not sent/)
    expect(await n.outbox({ state: 'deferred' })).toHaveLength(0)
  })

  it('a bypass of major lets level II through in the night; the list shows each message with its answer', async () => {
    const clk = clock(NIGHT)
    const { notifier: n, alerting: a, prov } = engines.start({ now: clk.now, rules: [WATER_RULE] })
    const c = await nightlyQuiet(n, 'Trưởng ca', '0905000003')
    expect((await n.contacts.update(c.id, { quiet_hours: { from: '22:00', to: '06:00', bypass: 'major' } }))!.quiet_hours!.bypass).toBe(
      'major',
    )
    await a.handleReading(gauge('kim-long', NIGHT, 2.5)) // level II
    await n.drain()
    expect(prov.delivered('esms').map((r) => String(r.body.Content))).toEqual([expect.stringContaining('BAO DONG II Kim Long')])
    const page = await n.notifications({}, { limit: 10 })
    expect(page.items).toHaveLength(1)
    expect(page.items[0]).toMatchObject({
      contact: { id: c.id, name: 'Trưởng ca' },
      channel: 'sms',
      state: 'sent',
      kind: 'alert',
      attempts: 1,
    })
    expect(page.items[0]!.provider_answer).toBe(`accepted (${page.items[0]!.provider_message_id})`)
    expect((await n.contacts.update(c.id, { quiet_hours: null }))!.quiet_hours).toBeUndefined()
  })
})
