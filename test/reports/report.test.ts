import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alerting } from '../../gateway/alerts/engine.ts'
import { openAlertsDb } from '../../gateway/alerts/db.ts'
import { GatewayBus, type Reading } from '../../gateway/bus/events.ts'
import { createIngest } from '../../gateway/ingest/ingest.ts'
import { aqiBand, AQI_BANDS } from '../../gateway/domain/vn-aqi.ts'
import type { Notifier } from '../../gateway/notify/notifier.ts'
import { buildReport, type ReportDeps } from '../../gateway/reports/build.ts'
import { localDayStart } from '../../gateway/reports/period.ts'
import { AQI_BAND_KEYS, VEHICLE_CLASS_KEYS, type Report } from '../../gateway/reports/types.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import type { Point, TimeSeriesStore } from '../../gateway/store/types.ts'
import { createVision, type Vision } from '../../gateway/vision/index.ts'
import { clock, floodAlerting, metrics, quietLogger, stations } from '../alerts/helpers.ts'
import { device, publish } from '../ingest/helpers.ts'
import { startStandIns, type StandIns } from '../notify/standins.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/services.ts'
import { camera, publish as publishFrame, sample, visionConfig } from '../vision/support.ts'
import { LEFT_HALF, RIGHT_HALF } from '../support/zones.ts'

// The must-show of docs/reports.md: a test day built from real readings through the real ingest
// (Kim Long gauge rising through alarm levels I and II and back, a rain gauge, an air-quality
// station), a camera fed real photos through the real vision pipeline and model, alerts raised by
// the real engine and notified through the notifier. Everything lands in BOTH stores (SQLite and a
// real influxd); the report of each store must equal the figures computed here from what was fed.

const MIN = 60_000
const H = 3_600_000
const DAY0 = localDayStart(Date.now()) - 3 * 86_400_000 // a whole local day, 3 days ago (within every retention)
const HOLD = { sensors: 15 * MIN, cameras: 5 * MIN }
const LEVELS = { I: 1.0, II: 2.0, III: 3.5 } // Kim Long, config/stations.yaml

describe.skipIf(!requireInfluxd())('situation report over a test day: both stores match the figures computed from the readings', () => {
  const dir = tempDir('iocgw-report-')
  let influxd: Influxd
  let sqlite: SqliteTimeSeriesStore
  let influx: InfluxTimeSeriesStore
  let alerting: Alerting
  let notifier: Notifier
  let prov: StandIns
  let vision: Vision
  const readings: Reading[] = []
  const detections: Point[] = []
  const reports: Record<string, Report> = {}

  beforeAll(async () => {
    influxd = await startInfluxd()
    sqlite = new SqliteTimeSeriesStore({ dataDir: dir.path, logger: quietLogger(), metrics: metrics() })
    influx = await InfluxTimeSeriesStore.open({
      url: influxd.urlFor('ioc_report'),
      dataDir: `${dir.path}/influx`,
      logger: quietLogger(),
      metrics: metrics(),
    })
    const both: Pick<TimeSeriesStore, 'write'> = { write: async (pts) => void (await Promise.all([sqlite.write(pts), influx.write(pts)])) }
    const clk = clock(DAY0)
    const bus = new GatewayBus()
    bus.on('reading', (r) => readings.push(r))
    prov = await startStandIns()
    const st = stations()
    ;({ alerting, notifier } = floodAlerting({ dataDir: dir.path, bus, prov, minDurationS: 600 }, { now: clk.now }))
    await notifier.contacts.create({
      name: 'Trực ban Kim Long',
      phone: '0905123456',
      role: 'officer',
      stations: ['kim-long'],
      channels: ['sms'],
    })
    const ingest = createIngest({ store: both, bus, logger: quietLogger(), metrics: metrics(), stations: st, now: clk.now })

    const gauge = device('kl-wl-01', 'water_level', 'kim-long')
    const rain = device('kl-rain-01', 'rain_gauge', 'kim-long')
    const air = { ...device('hue-aq-01', 'air_quality', 'hue-aq'), district: 'Huế' }
    let seq = 0
    const send = async (dev: typeof gauge, ts: number, values: Record<string, number>) => {
      clk.set(ts + 1000)
      await ingest.telemetry(publish(dev, { ts, seq: ++seq, values }, { receivedAt: ts + 1000 }))
    }
    // Kim Long: 0.60 m at 00:00, +0.10 m every 10 min to 2.40 m at 03:00, then down by 0.10 m
    // every 20 min; silent 08:00-10:00 (the hold cap applies); 0.60 m from 10:00 every 10 min.
    const level: Array<[number, number]> = []
    for (let i = 0; i <= 18; i++) level.push([DAY0 + i * 10 * MIN, Math.round((0.6 + i * 0.1) * 100) / 100])
    for (let i = 1; i <= 15; i++) level.push([DAY0 + 3 * H + i * 20 * MIN, Math.round((2.4 - i * 0.1) * 100) / 100])
    for (let t = DAY0 + 10 * H; t < DAY0 + 24 * H; t += 10 * MIN) level.push([t, 0.6])
    // Rain: every 10 min from 01:00 to 06:00, heavier in the middle (mm per 10 min).
    const rainAt: Array<[number, number]> = []
    for (let i = 0; i < 30; i++) rainAt.push([DAY0 + H + i * 10 * MIN, [0.2, 0.4, 1.2, 2.6, 3.8, 1.0][Math.floor(i / 5)]!])
    // Air: PM2.5 and PM10 every 15 min, a bad hour block in the afternoon.
    const airAt: Array<[number, number]> = []
    for (let t = DAY0; t < DAY0 + 24 * H; t += 15 * MIN) airAt.push([t, t >= DAY0 + 13 * H && t < DAY0 + 17 * H ? 95 : 18])
    const all = [
      ...level.map(
        ([t, v]) =>
          () =>
            send(gauge, t, { water_level: v }),
      ),
      ...rainAt.map(
        ([t, mm]) =>
          () =>
            send(rain, t + 30_000, { rainfall: mm, interval_s: 600 }),
      ),
      ...airAt.map(
        ([t, pm]) =>
          () =>
            send(air, t + 45_000, { pm25: pm, pm10: pm * 1.6 }),
      ),
    ]
    // In event-time order, as they would arrive.
    const ordered = [...level.map(([t]) => t), ...rainAt.map(([t]) => t + 30_000), ...airAt.map(([t]) => t + 45_000)]
      .map((t, i) => [t, all[i]!] as const)
      .sort((a, b) => a[0] - b[0])
    for (const [t, fn] of ordered) {
      await fn()
      if (t === DAY0 + 4 * H) {
        // The duty officer acknowledges the open alert at 04:00, after its raise to II (a raise asks for a new acknowledgement).
        const open = (await alerting.list({}, { limit: 10 })).items.find((a) => a.state === 'open')
        if (open) await alerting.acknowledge(open.id, 'Trực ban Kim Long')
      }
    }
    await notifier.drain()

    // Camera: four real photos through the vision pipeline at 09:00, 09:02, 09:04, 09:20 local.
    vision = createVision({
      store: {
        write: async (pts) => {
          detections.push(...pts)
          await both.write(pts)
        },
      },
      logger: quietLogger(),
      metrics: metrics(),
      dataDir: dir.path,
      config: visionConfig({
        motion: { enabled: false },
        cameras: {
          'cam-kl-01': {
            zones: [
              {
                id: 'left',
                kind: 'count',
                polygon: LEFT_HALF,
              },
              {
                id: 'right',
                kind: 'count',
                polygon: RIGHT_HALF,
              },
            ],
          },
        },
      }),
    })
    await vision.whenReady()
    const cam = camera('cam-kl-01')
    const frames: Array<[string, number]> = [
      ['coco_000000001532.jpg', 0],
      ['coco_000000007816.jpg', 2],
      ['culane_lane00000.jpg', 4],
      ['coco_000000001584.jpg', 20],
    ]
    for (const [name, min] of frames) {
      await vision.frames(publishFrame(cam, sample(name), `frames/${DAY0 + 9 * H + min * MIN}`))
      await vision.pipeline.settled()
    }

    const deps = (store: TimeSeriesStore): ReportDeps => ({
      store,
      stations: st,
      holdMaxMs: HOLD,
      alertsDb: openAlertsDb(dir.path).db,
      backend: store.backend,
      now: () => DAY0 + 30 * H,
    })
    const req = { from: DAY0, to: DAY0 + 24 * H, lang: 'vi' as const }
    reports.sqlite = await buildReport(deps(sqlite), { req, scope: null })
    reports.influx = await buildReport(deps(influx), { req, scope: null })
  }, 300_000)

  afterAll(async () => {
    await vision?.close()
    await alerting?.close()
    await notifier?.close()
    await prov?.close()
    await sqlite?.close()
    await influx?.close()
    await influxd?.remove()
    dir.remove()
  }, 60_000)

  /** The hold rule of docs/reports.md, written out again here. */
  function heldMs(times: number[], cap: number, end: number): number[] {
    return times.map((t, i) => Math.min((times[i + 1] ?? end) - t, cap))
  }

  for (const backend of ['sqlite', 'influx'] as const) {
    it(`${backend}: Kim Long maximum, time at levels I and II, first reached, rise rates`, async () => {
      const r = reports[backend]!
      const wl = readings.filter((x) => x.station === 'kim-long' && x.values.water_level !== undefined)
      const times = wl.map((x) => x.ts)
      const held = heldMs(times, HOLD.sensors, DAY0 + 24 * H)
      const at: Record<string, number> = { below: 0, I: 0, II: 0, III: 0 }
      wl.forEach((x, i) => {
        const v = x.values.water_level!
        at[v >= LEVELS.III ? 'III' : v >= LEVELS.II ? 'II' : v >= LEVELS.I ? 'I' : 'below']! += held[i]! / 1000
      })
      const max = wl.reduce((a, b) => (b.values.water_level! > a.values.water_level! ? b : a))
      const firstII = wl.find((x) => x.values.water_level! >= LEVELS.II)!
      const rises = wl.filter((x) => x.values.rise_rate !== undefined)
      const fastest = rises.reduce((a, b) => (b.values.rise_rate! > a.values.rise_rate! ? b : a))
      const k = r.water_levels.find((w) => w.station === 'kim-long')!
      expect(k.name).toBe('Kim Long')
      expect(k.readings).toBe(wl.length)
      expect(k.max).toEqual({ value: 2.4, at: new Date(max.ts).toISOString() })
      expect(k.max_level).toBe(2)
      expect(k.time_at_level_s).toEqual(at)
      expect(k.time_at_level_s.I).toBeGreaterThan(0)
      expect(k.time_at_level_s.II).toBeGreaterThan(0)
      expect(k.covered_s).toBe(at.below! + at.I! + at.II!)
      expect(k.covered_s).toBeLessThan(24 * 3600) // the silence is not covered
      expect(k.first_reached.II).toBe(new Date(firstII.ts).toISOString())
      expect(k.first_reached.III).toBeUndefined()
      expect(k.max_rise_rate?.value).toBeCloseTo(fastest.values.rise_rate!, 3)
      expect(k.max_rise_rate?.at).toBe(new Date(fastest.ts).toISOString())
      expect(k.last).toEqual({ value: 0.6, at: new Date(times[times.length - 1]!).toISOString() })
    })

    it(`${backend}: rainfall total, wettest hour and wettest 24 h`, async () => {
      const r = reports[backend]!
      const rain = readings.filter((x) => x.values.rainfall !== undefined)
      const hours = new Map<number, number>()
      for (const x of rain) hours.set(Math.floor(x.ts / H) * H, (hours.get(Math.floor(x.ts / H) * H) ?? 0) + x.values.rainfall!)
      const wettest = [...hours].reduce((a, b) => (b[1] > a[1] ? b : a))
      const total = rain.reduce((s, x) => s + x.values.rainfall!, 0)
      const g = r.rainfall.find((x) => x.station === 'kim-long')!
      expect(g.readings).toBe(rain.length)
      expect(g.total_mm).toBeCloseTo(total, 6)
      expect(g.max_1h).toEqual({ value: Math.round(wettest[1] * 100) / 100, at: new Date(wettest[0]).toISOString() })
      expect(g.max_24h?.value).toBeCloseTo(total, 6) // all the rain fell within 24 h
    })

    it(`${backend}: air-quality hours by VN_AQI band`, async () => {
      const r = reports[backend]!
      const aq = readings.filter((x) => x.station === 'hue-aq' && x.values.aqi !== undefined)
      const hourMax = new Map<number, number>()
      for (const x of aq) hourMax.set(Math.floor(x.ts / H) * H, Math.max(hourMax.get(Math.floor(x.ts / H) * H) ?? 0, x.values.aqi!))
      const bands = Object.fromEntries(AQI_BAND_KEYS.map((k) => [k, 0]))
      for (const v of hourMax.values()) bands[AQI_BAND_KEYS[AQI_BANDS.indexOf(aqiBand(v))]!]!++
      const a = r.air_quality.find((x) => x.station === 'hue-aq')!
      expect(a.hours).toBe(hourMax.size)
      expect(a.hours_by_band).toEqual(bands)
      expect(Object.values(bands).filter((n) => n > 0).length).toBeGreaterThan(1) // the bad block shows
      expect(a.max_aqi?.value).toBe(Math.max(...aq.map((x) => x.values.aqi!)))
    })

    it(`${backend}: camera vehicles by class and time at congestion levels from real photos`, async () => {
      const r = reports[backend]!
      const c = r.cameras.find((x) => x.camera === 'cam-kl-01')!
      const vehicles = Object.fromEntries(VEHICLE_CLASS_KEYS.map((k) => [k, detections.reduce((s, p) => s + Number(p.fields[k] ?? 0), 0)]))
      const peak = Object.fromEntries(VEHICLE_CLASS_KEYS.map((k) => [k, Math.max(...detections.map((p) => Number(p.fields[k] ?? 0)))]))
      expect(vehicles.car).toBeGreaterThan(0) // the model saw cars in the photos
      expect(c.vehicles).toEqual(vehicles)
      expect(c.peak).toEqual(peak)
      expect(c.zones).toEqual(['left', 'right'])
      const times = [...new Set(detections.map((p) => p.ts))].sort((a, b) => a - b)
      expect(c.frames).toBe(times.length)
      const worst = times.map((t) => Math.max(...detections.filter((p) => p.ts === t).map((p) => Number(p.fields.congestion))))
      const held = heldMs(times, HOLD.cameras, DAY0 + 24 * H)
      const cong: Record<string, number> = { '0': 0, '1': 0, '2': 0, '3': 0 }
      worst.forEach((w, i) => (cong[String((w >= 1 ? 1 : 0) + (w >= 2 ? 1 : 0) + (w >= 3 ? 1 : 0))]! += held[i]! / 1000))
      expect(c.congestion_s).toEqual(cong)
    })

    it(`${backend}: alerts opened, time to acknowledge, by whom, notifications sent`, async () => {
      const r = reports[backend]!
      const list = (await alerting.list({}, { limit: 50 })).items
      expect(list.length).toBeGreaterThan(0)
      expect(r.alerts.opened).toBe(list.length)
      const a = list.find((x) => x.acknowledged)!
      const item = r.alerts.items.find((x) => x.id === a.id)!
      expect(item.acknowledged_by).toBe('Trực ban Kim Long')
      expect(item.time_to_ack_s).toBe((Date.parse(a.acknowledged!.at) - Date.parse(a.opened_at)) / 1000)
      expect(item.level).toBe(Math.max(...a.history.map((h) => h.level ?? 0)))
      const sent = (await notifier.outbox()).filter((o) => o.alert_id === a.id && o.state === 'sent').length
      expect(sent).toBeGreaterThan(0)
      expect(item.notifications.sent).toBe(sent)
      expect(r.alerts.notifications.by_channel.sms?.sent).toBe((await notifier.outbox({ state: 'sent' })).filter((o) => o.alert_id).length)
    })
  }

  it('both stores give the same report', async () => {
    const strip = (r: Report) => ({ ...r, store: undefined })
    expect(strip(reports.influx!)).toEqual(strip(reports.sqlite!))
    expect(reports.sqlite!.title).toContain('Báo cáo tình hình')
    expect(reports.sqlite!.summary).toContain('Kim Long 2,40 m (Báo động II)')
  })
})
