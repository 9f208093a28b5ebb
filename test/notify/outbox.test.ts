import { describe, expect, it } from 'vitest'
import { quietUntil } from '../../gateway/notify/notifier.ts'
import { waitFor } from '../support/services.ts'
import { clock, gauge } from '../alerts/helpers.ts'
import { useNotifyEngines } from './engines.ts'
import { standInConfig } from './standins.ts'

const T0 = Date.parse('2026-11-20T03:00:00Z') // 10:00 in Huế

describe('outbox sender', () => {
  const engines = useNotifyEngines()
  const setup = (config: Record<string, unknown> = {}, now?: () => number) => engines.start({ config, now, escalate: true })

  it('retries 5xx and timeouts with backoff, then delivers once', async () => {
    const { notifier: n, alerting: a, prov } = setup()
    await n.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
    prov.failNext('esms', 1, 'http_500')
    prov.failNext('esms', 2, 'http_500')
    await a.handleReading(gauge('kim-long', Date.now(), 1.5))
    await waitFor(async () => (await n.outbox({ state: 'sent' })).length === 1, 10_000)
    const esms = prov.received.filter((r) => r.provider === 'esms')
    expect(esms.map((r) => r.answer)).toEqual(['http_500', 'http_500', 'delivered'])
    expect(new Set(esms.map((r) => r.body.RequestId)).size).toBe(1)
    expect(esms[2]!.at - esms[1]!.at).toBeGreaterThan(0)
    expect((await n.outbox())[0]).toMatchObject({ state: 'sent', attempts: 3 })
  })

  it('bad credentials fail for good after one attempt and are reported', async () => {
    const cfg = standInConfig(engines.prov)
    const { notifier: n, alerting: a } = setup({ esms: { ...cfg.esms, apiKey: 'wrong' } })
    await n.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
    await a.handleReading(gauge('kim-long', Date.now(), 1.5))
    await waitFor(async () => (await n.outbox({ state: 'failed' })).length === 1, 10_000)
    expect((await n.outbox())[0]).toMatchObject({ attempts: 1, last_error: expect.stringContaining('esms_101') })
  })

  it('per-contact rate limit: the rest go out as one digest when the window has room; critical passes', async () => {
    const { notifier: n, alerting: a, prov } = setup({ rateLimit: { max: 2, windowS: 1 } })
    await n.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
    const rain = (station: string) => ({
      device: `${station}-rain`,
      kind: 'rain_gauge' as const,
      station,
      district: null,
      ts: Date.now(),
      seq: null,
      values: { rainfall: 5 },
      late: false,
    })
    for (const s of ['kim-long', 'phu-oc', 'thuong-nhat', 'truoi', 'co-bi']) {
      await a.handleReading(rain(s))
      await n.drain()
    }
    await a.handleReading(gauge('kim-long', Date.now(), 3.8)) // level III: critical, never held
    await n.drain()
    await waitFor(() => prov.delivered('esms').some((r) => String(r.body.Content).includes('TONG HOP')), 10_000).catch(async (e) => {
      console.log(
        JSON.stringify((await n.outbox()).map((r) => [r.state, r.severity, r.last_error])),
        prov.delivered('esms').map((r) => r.body.Content),
      )
      throw e
    })
    const texts = prov.delivered('esms').map((r) => String(r.body.Content))
    expect(texts.filter((t) => t.includes('MUA LON'))).toHaveLength(2)
    expect(texts.filter((t) => t.includes('BAO DONG III'))).toHaveLength(1)
    expect(texts.filter((t) => t.includes('TONG HOP'))).toHaveLength(1)
    expect(await n.outbox({ state: 'digested' })).toHaveLength(3)
  })

  it('quiet hours hold non-critical alerts until they end; critical goes at once', async () => {
    expect(quietUntil(Date.parse('2026-11-20T16:00:00Z'), { start: '22:00', end: '06:00' })).toBe(Date.parse('2026-11-20T23:00:00Z'))
    expect(quietUntil(Date.parse('2026-11-20T20:00:00Z'), { start: '22:00', end: '06:00' })).toBe(Date.parse('2026-11-20T23:00:00Z'))
    expect(quietUntil(Date.parse('2026-11-20T03:00:00Z'), { start: '22:00', end: '06:00' })).toBeUndefined()
    const night = Date.parse('2026-11-20T16:30:00Z') // 23:30 in Huế
    const clk = clock(night)
    const { notifier: n, alerting: a, prov } = setup({ quietHours: { start: '22:00', end: '06:00' } }, clk.now)
    await n.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
    await a.handleReading(gauge('kim-long', night, 1.5))
    await a.handleReading(gauge('phu-oc', night, 5))
    await n.drain()
    expect(prov.delivered('esms').map((r) => String(r.body.Content))).toEqual([expect.stringContaining('BAO DONG III Phu Oc')])
    const held = await n.outbox({ state: 'pending' })
    expect(held).toHaveLength(1)
    expect(held[0]!.next_at).toBe(Date.parse('2026-11-20T23:00:00Z'))
    clk.set(Date.parse('2026-11-20T23:00:01Z'))
    await n.drain()
    expect(prov.delivered('esms')).toHaveLength(2)
  })

  it('escalates an unacknowledged alert to the next tier, once per tier; acknowledging stops it', async () => {
    const clk = clock(T0)
    const { notifier: n, alerting: a, prov } = setup({ escalation: { afterS: 600, maxTier: 3, checkMs: 10 } }, clk.now)
    await n.contacts.create({ name: 'Trực ban', phone: '0905000001', role: 'officer', tier: 1, channels: ['sms'] })
    await n.contacts.create({ name: 'Trưởng ca', phone: '0905000002', role: 'officer', tier: 2, channels: ['sms'] })
    await n.contacts.create({ name: 'Lãnh đạo', phone: '0905000003', role: 'admin', tier: 3, channels: ['sms'] })
    await a.handleReading(gauge('kim-long', T0, 2.5))
    await a.handleReading(gauge('phu-oc', T0, 2.0))
    await waitFor(() => prov.delivered('esms').length === 2, 5000)
    const other = (await a.list({ station: 'phu-oc' }, { limit: 1 })).items[0]!
    await a.acknowledge(other.id, 'Trực ban')
    clk.add(601_000)
    await waitFor(() => prov.delivered('esms').length === 3, 5000)
    await new Promise((r) => setTimeout(r, 100))
    expect(prov.delivered('esms').map((r) => r.body.Phone)).toEqual(['0905000001', '0905000001', '0905000002'])
    expect(String(prov.delivered('esms')[2]!.body.Content)).toContain('CHUA DUOC XAC NHAN')
    clk.add(600_000) // 20 min unacknowledged: tier 3
    await waitFor(() => prov.delivered('esms').length === 4, 5000)
    clk.add(3_600_000)
    await new Promise((r) => setTimeout(r, 100))
    expect(prov.delivered('esms').map((r) => r.body.Phone)).toEqual(['0905000001', '0905000001', '0905000002', '0905000003'])
    const kl = (await a.list({ station: 'kim-long' }, { limit: 1 })).items[0]!
    expect(kl.tier).toBe(3)
    expect(kl.history.filter((h) => h.action === 'escalated').map((h) => h.tier)).toEqual([2, 3])
  })

  it('sends a test message to one contact on each of its channels', async () => {
    const { notifier: n, prov } = setup()
    const c = await n.contacts.create({
      name: 'Nguyễn Văn An',
      phone: '0905123456',
      zalo_user_id: 'zu-9',
      role: 'officer',
      channels: ['sms', 'zalo_zns', 'zalo_oa'],
    })
    const r = await n.sendTest(c.id)
    expect(r).toEqual([
      { channel: 'sms', ok: true },
      { channel: 'zalo_zns', ok: true },
      { channel: 'zalo_oa', ok: true },
    ])
    expect(String(prov.delivered('esms')[0]!.body.Content)).toContain('Tin nhan thu gui Nguyen Van An')
    expect(prov.delivered('zalo_zns')[0]!.body.template_id).toBe('300002')
    await expect(n.sendTest('nobody')).rejects.toThrow(/not found/)
  })
})
