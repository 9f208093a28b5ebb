import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Alerting } from '../../gateway/alerts/engine.ts'
import { gsm7Length } from '../../gateway/notify/gsm7.ts'
import type { Notifier } from '../../gateway/notify/notifier.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStandIns, type StandIns } from '../notify/standins.ts'
import { GatewayBus, clock, floodAlerting, gauge, KIM_LONG_OFFICER } from './helpers.ts'

// Kim Long (sông Hương), levels I 1.00, II 2.00, III 3.50 m (Decision 05/2020/QĐ-TTg, domain/stations.md).

describe('Kim Long flood: one alert raised in place, notified to matching subscribers only', () => {
  let dir: ReturnType<typeof tempDir>
  let prov: StandIns
  let alerting: Alerting
  let notifier: Notifier
  const published: Array<{ topic: string; payload: string; qos: number }> = []

  beforeEach(async () => {
    dir = tempDir()
    prov = await startStandIns()
  })
  afterEach(async () => {
    await alerting?.close()
    await notifier?.close()
    await prov.close()
    dir.remove()
  })

  it('0.8 -> 3.7 m opens at I, raises to II and III, wobble does not flap, falling past hysteresis resolves', async () => {
    const t0 = Date.parse('2026-11-20T00:00:00Z')
    const clk = clock(t0)
    const bus = new GatewayBus()
    ;({ alerting, notifier } = floodAlerting(
      { dataDir: dir.path, bus, prov, minDurationS: 600 },
      {
        now: clk.now,
        publish: (topic, payload, o) => {
          published.push({ topic, payload: String(payload), qos: o.qos })
        },
      },
    ))
    const officer = await notifier.contacts.create(KIM_LONG_OFFICER)
    const other = await notifier.contacts.create({
      name: 'Trực ban Phú Ốc',
      phone: '0905999888',
      zalo_user_id: 'zu-2002',
      role: 'officer',
      stations: ['phu-oc'],
      channels: ['sms', 'zalo_zns', 'zalo_oa'],
    })
    const chief = await notifier.contacts.create({
      name: 'Lãnh đạo',
      phone: '0914000111',
      role: 'officer',
      min_severity: 'critical',
      channels: ['sms', 'zalo_zns'],
    })
    const rainOnly = await notifier.contacts.create({
      name: 'Khí tượng',
      phone: '0935111222',
      role: 'viewer',
      kinds: ['rainfall'],
      channels: ['sms'],
    })

    // Readings every 5 minutes of event time (the engine's clock follows them).
    let t = t0
    const feed = (levels: number[]) => {
      for (const v of levels) {
        t += 300_000
        clk.set(t + 1000)
        bus.emit('reading', gauge('kim-long', t, v))
      }
    }
    const rise = (from: number, to: number, step: number) => {
      const out: number[] = []
      for (let v = from; step > 0 ? v <= to + 1e-9 : v >= to - 1e-9; v += step) out.push(Math.round(v * 100) / 100)
      return out
    }
    feed(rise(0.8, 1.9, 0.1))
    feed([1.95, 2.02, 1.97, 2.03, 1.96, 2.01, 1.98]) // wobble around II: never 10 min above
    feed(rise(2.0, 3.7, 0.1))
    feed([3.7, 3.46, 3.52, 3.44, 3.55, 3.42]) // wobble around III within the hysteresis: stays III
    feed(rise(3.5, 0.5, -0.2))
    feed([0.5, 0.5, 0.5])
    await alerting.idle()

    const all = (await alerting.list({}, { limit: 50 })).items
    expect(all).toHaveLength(1)
    const a = all[0]!
    expect(a.kind).toBe('water_level')
    expect(a.station).toBe('kim-long')
    expect(a.state).toBe('resolved')
    expect(a.history.map((h) => `${h.action}:${h.level}`)).toEqual([
      'opened:1',
      'raised:2',
      'raised:3',
      'lowered:2',
      'lowered:1',
      'resolved:0',
    ])
    expect(a.history.map((h) => h.severity)).toEqual(['minor', 'major', 'critical', 'major', 'minor', 'minor'])
    // Level I applied only after 10 min at or above 1.00 m; resolved only below 0.90 m for 10 min.
    const opened = a.history[0]!
    expect(opened.value).toBeGreaterThanOrEqual(1.0)
    const resolved = a.history[5]!
    expect(resolved.value).toBeLessThan(0.9)

    // Every change published on alerts/water_level/kim-long with QoS 1.
    const topics = published.map((p) => `${p.topic}@${p.qos}`)
    expect(topics).toEqual(Array(6).fill('alerts/water_level/kim-long@1'))
    expect(JSON.parse(published[1]!.payload)).toMatchObject({ id: a.id, level: 2, severity: 'major', change: { action: 'raised' } })

    // Officer of Kim Long: every change on SMS, ZNS and OA. Chief (critical only): the raise to III.
    await waitFor(() => prov.delivered().length >= 6 * 3 + 2, 10_000)
    await notifier.drain()
    const to = (provider: 'esms' | 'zalo_zns' | 'zalo_oa', id: string) =>
      prov
        .delivered(provider)
        .filter((r) => r.body.Phone === id || r.body.phone === id || (r.body.recipient as { user_id?: string } | undefined)?.user_id === id)
    const sms = to('esms', '0905123456')
    expect(sms).toHaveLength(6)
    expect(sms.slice(0, 3).map((r) => String(r.body.Content))).toEqual([
      expect.stringContaining('BAO DONG I Kim Long (song Huong)'),
      expect.stringContaining('BAO DONG II Kim Long'),
      expect.stringContaining('BAO DONG III Kim Long'),
    ])
    for (const r of sms) {
      expect(gsm7Length(String(r.body.Content))).toBeLessThanOrEqual(160)
      expect(r.body.IsUnicode).toBe(0)
    }
    expect(to('zalo_zns', '84905123456')).toHaveLength(6)
    expect(to('zalo_zns', '84905123456')[2]!.body.template_data).toMatchObject({ action: 'Tăng mức', severity: 'Khẩn cấp' })
    const oa = to('zalo_oa', 'zu-1001')
    expect(oa).toHaveLength(6)
    expect(String((oa[1]!.body.message as { text: string }).text)).toContain('vượt báo động II')
    expect(to('esms', '0914000111')).toHaveLength(1)
    expect(String(to('esms', '0914000111')[0]!.body.Content)).toContain('BAO DONG III')
    expect(to('zalo_zns', '84914000111')).toHaveLength(1)
    for (const c of [other, rainOnly]) {
      expect(prov.received.filter((r) => JSON.stringify(r.body).includes(c.phone!.slice(1)))).toHaveLength(0)
    }
    void officer
    void chief
    // Idempotency keys: one per (change, contact, channel), never reused.
    const keys = prov.delivered('esms').map((r) => r.body.RequestId)
    expect(new Set(keys).size).toBe(keys.length)
    expect(await notifier.outbox({ state: 'sent' })).toHaveLength(6 * 3 + 2)
  })
})
