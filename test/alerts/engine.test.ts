import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerting, type Alerting, type AlertingOptions } from '../../gateway/alerts/engine.ts'
import { targetLevel } from '../../gateway/alerts/levels.ts'
import { parseRules, parseRulesYaml, RuleError } from '../../gateway/alerts/rules.ts'
import type { AlertChange } from '../../gateway/alerts/types.ts'
import { tempDir } from '../support/services.ts'
import { GatewayBus, clock, gauge, metrics, quietLogger, stations } from './helpers.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')

describe('rules document', () => {
  it('ships a valid config/rules.yaml', async () => {
    const { readFileSync } = await import('node:fs')
    const doc = parseRulesYaml(readFileSync('config/rules.yaml', 'utf8'), 'config/rules.yaml')
    expect(doc.rules.map((r) => r.type)).toEqual(
      expect.arrayContaining(['water_alarm', 'rise_rate', 'rainfall', 'aqi_band', 'silence', 'congestion', 'water_ratio']),
    )
  })
  it.each([
    [
      { version: 1, rules: [{ id: 'x', type: 'rainfall', window_s: 3600, thresholds_mm: [50, 30] }] },
      'rules[0].thresholds_mm must be in ascending order',
    ],
    [
      { version: 1, rules: [{ id: 'x', type: 'rainfall', window_s: 3600, thresholds_mm: [50], colour: 'red' }] },
      'rules[0].colour is not an accepted field',
    ],
    [{ version: 1, rules: [{ id: 'x', type: 'flood' }] }, 'rules[0].type must be one of'],
    [{ version: 1, rules: [{ id: 'x', type: 'silence' }] }, 'rules[0].expected_interval_s is required'],
    [{ version: 1, rules: [{ id: 'x', type: 'water_alarm', hysteresis_m: -1 }] }, 'rules[0].hysteresis_m'],
    [
      {
        version: 1,
        rules: [
          { id: 'a', type: 'silence', expected_interval_s: 60 },
          { id: 'a', type: 'silence', expected_interval_s: 60 },
        ],
      },
      'rules[1].id "a" is used by another rule',
    ],
    [
      { version: 1, rules: [{ id: 'x', type: 'water_alarm', levels: { 'kim-long': [2, 1, 3] } }] },
      'rules[0].levels.kim-long must be ascending',
    ],
    [{ version: 2, rules: [] }, 'version'],
  ])('refuses a bad rule with a reason naming the field (%#)', (doc, reason) => {
    expect(() => parseRules(doc)).toThrow(RuleError)
    expect(() => parseRules(doc)).toThrow(reason)
  })
})

describe('levels with hysteresis', () => {
  it('enters at a threshold and leaves only below threshold - hysteresis', () => {
    const t = [1, 2, 3.5]
    expect(targetLevel(0.99, t, 0.1, 0)).toBe(0)
    expect(targetLevel(1.0, t, 0.1, 0)).toBe(1)
    expect(targetLevel(1.95, t, 0.1, 2)).toBe(2)
    expect(targetLevel(1.89, t, 0.1, 2)).toBe(1)
    expect(targetLevel(3.7, t, 0.1, 0)).toBe(3)
    expect(targetLevel(2.5, [null, 2, 3.5], 0.1, 0)).toBe(2)
  })
})

describe('alert engine', () => {
  let dir: ReturnType<typeof tempDir>
  const open: Alerting[] = []
  const changes: AlertChange[] = []
  const make = (rules: unknown[], extra: Partial<AlertingOptions> = {}) => {
    const a = createAlerting({
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      rules: parseRules({ version: 1, rules }),
      ...extra,
    })
    a.onChange((c) => changes.push(c))
    open.push(a)
    return a
  }
  beforeEach(async () => {
    dir = tempDir()
    changes.length = 0
  })
  afterEach(async () => {
    for (const a of open.splice(0)) await a.close()
    dir.remove()
  })

  it('rule state (a pending duration) survives a restart', async () => {
    const clk = clock(T0)
    const rules = [{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 600 }]
    let a = make(rules, { now: clk.now })
    await a.handleReading(gauge('kim-long', T0, 1.1))
    await a.handleReading(gauge('kim-long', T0 + 300_000, 1.2))
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(0)
    await a.close()
    open.pop()
    a = make(rules, { now: clk.now })
    await a.handleReading(gauge('kim-long', T0 + 600_000, 1.2))
    const items = (await a.list({}, { limit: 10 })).items
    expect(items).toHaveLength(1)
    expect(items[0]!.level).toBe(1)
    // And the open alert is the one the restarted engine keeps raising.
    await a.close()
    open.pop()
    a = make(rules, { now: clk.now })
    await a.handleReading(gauge('kim-long', T0 + 900_000, 2.2))
    await a.handleReading(gauge('kim-long', T0 + 1_500_000, 2.3))
    const after = (await a.list({}, { limit: 10 })).items
    expect(after).toHaveLength(1)
    expect(after[0]!.history.map((h) => h.action)).toEqual(['opened', 'raised'])
  })

  it('readings replayed after an outage raise the alert in event time, marked late', async () => {
    const a = make([{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 600 }])
    const base = Date.now() - 3 * 3_600_000
    for (let i = 0; i < 5; i++) await a.handleReading(gauge('kim-long', base + i * 300_000, 2.5, { late: true }))
    const [alert] = (await a.list({}, { limit: 10 })).items
    expect(alert).toBeDefined()
    expect(alert!.late).toBe(true)
    expect(alert!.level).toBe(2)
    expect(alert!.history[0]!.late).toBe(true)
    expect(Date.parse(alert!.history[0]!.event_ts!)).toBe(base + 600_000)
  })

  it('acknowledge and resolve keep who, when and note; a recurrence after resolution opens a new alert', async () => {
    const clk = clock(T0)
    const a = make([{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 0 }], { now: clk.now })
    await a.handleReading(gauge('kim-long', T0, 1.5))
    const first = (await a.list({}, { limit: 10 })).items[0]!
    const acked = await a.acknowledge(first.id, 'Nguyễn Văn An', 'Đã báo UBND phường')
    expect(acked.state).toBe('acknowledged')
    expect(acked.acknowledged).toMatchObject({ by: 'Nguyễn Văn An', note: 'Đã báo UBND phường' })
    await expect(a.acknowledge(first.id, 'x')).rejects.toThrow(/already acknowledged/)
    // A raise needs a new acknowledgement.
    await a.handleReading(gauge('kim-long', T0 + 60_000, 2.1))
    expect((await a.get(first.id))!.state).toBe('open')
    const resolved = await a.resolve(first.id, 'Trần Thị Bình', 'Kiểm tra tại chỗ')
    expect(resolved.state).toBe('resolved')
    expect(resolved.resolved).toMatchObject({ by: 'Trần Thị Bình' })
    await expect(a.resolve(first.id, 'x')).rejects.toThrow(/already resolved/)
    // Still high, or lower but above I: no new alert until the condition clears and comes back.
    await a.handleReading(gauge('kim-long', T0 + 120_000, 2.1))
    await a.handleReading(gauge('kim-long', T0 + 150_000, 1.5))
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(1)
    await a.handleReading(gauge('kim-long', T0 + 180_000, 0.5))
    await a.handleReading(gauge('kim-long', T0 + 240_000, 1.3))
    const all = (await a.list({}, { limit: 10 })).items
    expect(all).toHaveLength(2)
    expect(all.filter((x) => x.state === 'open')).toHaveLength(1)
    expect(all.find((x) => x.state === 'open')!.id).not.toBe(first.id)
    expect((await a.list({ state: 'resolved' }, { limit: 10 })).items.map((x) => x.id)).toEqual([first.id])
  })

  it('a silent device opens a silence alert, which resolves when it publishes again', async () => {
    const clk = clock(T0)
    const a = make([{ id: 'quiet', type: 'silence', device_kinds: ['water_level'], expected_interval_s: 600 }], { now: clk.now })
    await a.handleReading(gauge('kim-long', T0, 0.5))
    clk.add(590_000)
    await a.checkSilence()
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(0)
    clk.add(20_000)
    await a.checkSilence()
    await a.checkSilence()
    const [alert] = (await a.list({}, { limit: 10 })).items
    expect(alert).toMatchObject({ kind: 'silence', device: 'kim-long-01', state: 'open', station: 'kim-long' })
    clk.add(5_000)
    await a.handleReading(gauge('kim-long', clk.now(), 0.5))
    expect((await a.get(alert!.id))!.state).toBe('resolved')
    expect(changes.filter((c) => c.alert.kind === 'silence').map((c) => c.change.action)).toEqual(['opened', 'resolved'])
  })

  it('silence: a status keeps a tracked device alive, a device of another kind is not tracked, and a rule whose filter changed still hears its devices', async () => {
    const clk = clock(T0)
    const sensors = { id: 'quiet', type: 'silence', device_kinds: ['water_level'], expected_interval_s: 600 }
    const a = make([sensors], { now: clk.now })
    await a.handleReading(gauge('kim-long', T0, 0.5))
    const rain = {
      device: 'rain-01',
      kind: 'rain_gauge' as const,
      station: 'kim-long',
      district: null,
      ts: T0,
      seq: null,
      values: { rainfall: 1, interval_s: 600 },
      late: false,
    }
    await a.handleReading(rain)
    // A status of a device no rule tracks yet starts nothing.
    await a.handleStatus({ device: 'never-read', online: true, ts: T0 })
    clk.add(500_000)
    await a.handleStatus({ device: 'kim-long-01', online: true, ts: clk.now() })
    clk.add(500_000)
    await a.checkSilence()
    expect((await a.list({ kind: 'silence' }, { limit: 10 })).items).toHaveLength(0)
    clk.add(200_000)
    await a.checkSilence()
    expect((await a.list({ kind: 'silence' }, { limit: 10 })).items.map((x) => x.device)).toEqual(['kim-long-01'])
    // The rule now names rain gauges only: the water-level gauge it watched is still heard from.
    await a.replaceRules({ version: 1, rules: [{ ...sensors, device_kinds: ['rain_gauge'] }] })
    await a.handleReading(gauge('kim-long', clk.now(), 0.5))
    expect((await a.list({ kind: 'silence', state: 'open' }, { limit: 10 })).items).toHaveLength(0)
  })

  it('silence state survives a restart (a device silent across the restart still alerts)', async () => {
    const clk = clock(T0)
    const rules = [{ id: 'quiet', type: 'silence', expected_interval_s: 600 }]
    let a = make(rules, { now: clk.now })
    await a.handleReading(gauge('phu-oc', T0, 0.5))
    await a.close()
    open.pop()
    clk.add(700_000)
    a = make(rules, { now: clk.now })
    await a.checkSilence()
    expect((await a.list({ kind: 'silence' }, { limit: 10 })).items).toHaveLength(1)
  })

  it('rainfall accumulates over its window in event time, counting a replayed reading once', async () => {
    const clk = clock(T0)
    const a = make([{ id: 'rain-1h', type: 'rainfall', window_s: 3600, thresholds_mm: [30, 50] }], { now: clk.now })
    const rain = (ts: number, mm: number) => ({
      device: 'rain-01',
      kind: 'rain_gauge' as const,
      station: 'kim-long',
      district: null,
      ts,
      seq: null,
      values: { rainfall: mm, interval_s: 600 },
      late: false,
    })
    for (let i = 0; i < 3; i++) await a.handleReading(rain(T0 + i * 600_000, 9))
    await a.handleReading(rain(T0 + 600_000, 9)) // duplicate
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(0)
    await a.handleReading(rain(T0 + 1_800_000, 9)) // 36 mm in the hour
    const [alert] = (await a.list({}, { limit: 10 })).items
    expect(alert).toMatchObject({ kind: 'rainfall', level: 1, value: 36, threshold: 30 })
    await a.handleReading(rain(T0 + 2_400_000, 20)) // 56 mm
    expect((await a.get(alert!.id))!.level).toBe(2)
    // An hour of no rain later, the sum has left the window.
    await a.handleReading(rain(T0 + 2_400_000 + 3_600_000, 0))
    expect((await a.get(alert!.id))!.state).toBe('resolved')
  })

  it('VN_AQI band changes raise and lower one alert (Decision 1459/QĐ-TCMT bands)', async () => {
    const clk = clock(T0)
    const a = make([{ id: 'aqi', type: 'aqi_band', min_aqi: 101, hysteresis: 5, min_duration_s: 0 }], { now: clk.now })
    const air = (ts: number, aqi: number) => ({
      device: 'air-01',
      kind: 'air_quality' as const,
      station: 'hue-center',
      district: null,
      ts,
      seq: null,
      values: { aqi },
      late: false,
    })
    await a.handleReading(air(T0, 100))
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(0)
    await a.handleReading(air(T0 + 3_600_000, 101))
    await a.handleReading(air(T0 + 7_200_000, 160))
    await a.handleReading(air(T0 + 10_800_000, 148)) // still "Xấu" within the hysteresis
    await a.handleReading(air(T0 + 14_400_000, 140))
    await a.handleReading(air(T0 + 18_000_000, 90))
    const [alert] = (await a.list({}, { limit: 10 })).items
    expect(alert!.history.map((h) => `${h.action}:${h.level}`)).toEqual(['opened:1', 'raised:2', 'lowered:1', 'resolved:0'])
    expect(alert!.history[1]!.severity).toBe('major')
    expect((await a.get(alert!.id))!.title).toContain('VN_AQI')
  })

  it('rise rate over a window is its own alert', async () => {
    const clk = clock(T0)
    const a = make([{ id: 'rise', type: 'rise_rate', window_s: 3600, min_duration_s: 0 }], { now: clk.now })
    // 0.5 m/h at Kim Long (station default 0.3 m/h).
    for (let i = 0; i <= 12; i++) await a.handleReading(gauge('kim-long', T0 + i * 300_000, 0.5 + i * (0.5 / 12)))
    const [alert] = (await a.list({}, { limit: 10 })).items
    expect(alert).toMatchObject({ kind: 'rise_rate', station: 'kim-long', threshold: 0.3, severity: 'major' })
    expect(alert!.value!).toBeCloseTo(0.5, 2)
  })

  it('congestion and water in a flood zone from detection events, per camera zone', async () => {
    const clk = clock(T0)
    const bus = new GatewayBus()
    const a = make(
      [
        { id: 'cong', type: 'congestion', thresholds: [2, 3], min_duration_s: 0 },
        { id: 'flood', type: 'water_ratio', thresholds: [0.2, 0.5], hysteresis: 0.05, min_duration_s: 60 },
      ],
      { now: clk.now, bus },
    )
    const det = (ts: number, zone: string, congestion: number, water_ratio?: number) => ({
      camera: 'cam-le-loi',
      zone,
      ts,
      counts: { car: 3 },
      congestion,
      occupancy: 0.4,
      water_ratio,
    })
    bus.emit('detection', det(T0, 'lane-1', 2))
    bus.emit('detection', det(T0, 'flood', 0, 0.3))
    bus.emit('detection', det(T0 + 60_000, 'flood', 0, 0.55))
    bus.emit('detection', det(T0 + 120_000, 'flood', 0, 0.6))
    await a.idle()
    const items = (await a.list({}, { limit: 10 })).items
    expect(items.find((x) => x.kind === 'congestion')).toMatchObject({ device: 'cam-le-loi', zone: 'lane-1', level: 1 })
    const flood = items.find((x) => x.kind === 'water_in_zone')!
    expect(flood).toMatchObject({ device: 'cam-le-loi', zone: 'flood', severity: 'major', level: 2 })
  })

  it('replacing the rules validates, persists to the data dir and applies', async () => {
    const a = make([])
    await expect(a.replaceRules({ version: 1, rules: [{ id: 'r', type: 'rainfall', window_s: 3600, thresholds_mm: [] }] })).rejects.toThrow(
      /rules\[0\]\.thresholds_mm/,
    )
    await a.replaceRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] })
    await a.handleReading(gauge('kim-long', T0, 1.2))
    expect((await a.list({}, { limit: 10 })).items).toHaveLength(1)
    await a.close()
    open.pop()
    const b = createAlerting({
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      rulesFile: '/nonexistent.yaml',
    })
    open.push(b)
    expect(b.rules().rules.map((r) => r.id)).toEqual(['wl'])
  })
})
