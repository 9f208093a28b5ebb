import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from './stack.ts'

// The telemetry path into a real InfluxDB: devices publish over MQTT, ingest writes the data
// model's measurements (readings with derived fields, device_status, rejects) with stable types.

describe.skipIf(!requireInfluxd())('ingest into InfluxDB over MQTT', () => {
  const dir = tempDir()
  let influxd: Influxd
  let stack: Stack
  beforeAll(async () => {
    influxd = await startInfluxd()
    stack = await startStack({ dataDir: dir.path, influxUrl: influxd.urlFor('ioc') })
  })
  afterAll(async () => {
    await stack?.close()
    await influxd?.remove()
    dir.remove()
  })

  it('stores readings with alarm level, rise rate, VN_AQI and its dominant pollutant; status; rejects', async () => {
    const gauge = await stack.registry.createDevice(
      { id: 'kim-long-01', kind: 'water_level', name: 'Kim Long', station: 'kim-long', district: 'Huế' },
      { type: 'system', id: 't' },
    )
    const air = await stack.registry.createDevice(
      { id: 'aq-hue-01', kind: 'air_quality', name: 'Quan trắc không khí' },
      { type: 'system', id: 't' },
    )
    const g = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, {
      username: 'kim-long-01',
      password: gauge.secret,
      clientId: 'kim-long-01',
      reconnectPeriod: 0,
    })
    const a = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, {
      username: 'aq-hue-01',
      password: air.secret,
      clientId: 'aq-hue-01',
      reconnectPeriod: 0,
    })
    const now = Date.now()
    const levels = Array.from({ length: 7 }, (_, i) => ({
      ts: now - 3_600_000 + i * 600_000,
      seq: i,
      values: { water_level: 1.8 + 0.05 * i, battery: 12.6 },
    }))
    await g.publishAsync('devices/kim-long-01/telemetry', JSON.stringify(levels), { qos: 1 })
    const hour = Math.floor(now / 3_600_000) * 3_600_000
    await a.publishAsync(
      'devices/aq-hue-01/telemetry',
      JSON.stringify([
        { ts: hour - 3_600_000 + 5, seq: 1, values: { pm25: 20, pm10: 40 } },
        { ts: Math.min(hour + 5, now), seq: 2, values: { pm25: 30, pm10: 50, no2: 250, o3: 80 } },
      ]),
      { qos: 1 },
    )
    // SenML from the same gauge, in centimetres.
    await g.publishAsync(
      'devices/kim-long-01/telemetry',
      JSON.stringify([
        { bn: 'kim-long-01/', bt: (now + 1000) / 1000, n: 'water_level', u: 'cm', v: 215 },
        { n: 'seq', v: 7 },
      ]),
      { qos: 1 },
    )
    await g.publishAsync(
      'devices/kim-long-01/status',
      JSON.stringify({ online: true, ts: new Date().toISOString(), fw: '1.0', uptime: 12, queue_dropped: 0 }),
      { qos: 1, retain: true },
    )
    await g.publishAsync('devices/kim-long-01/telemetry', '{"values": {"water_level": 9999}}', { qos: 1 })
    await g.endAsync()
    await a.endAsync()

    const q = async (sql: string) => (await influxd.query(sql, 'ioc')).results[0]?.series?.[0]
    const wl = await waitFor(async () => {
      const s = await q(`SELECT * FROM readings WHERE device = 'kim-long-01' ORDER BY time`)
      return s && s.values.length === 8 ? s : undefined
    })
    const col = (s: typeof wl, name: string) => s.values.map((v) => v[s.columns.indexOf(name)])
    // The reading as the device sent it; the derived values in `derived` (docs/data-model.md).
    expect(col(wl, 'water_level').at(-1)).toBeCloseTo(2.15, 9)
    expect(col(wl, 'seq')).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    const dv = await waitFor(() => q(`SELECT alarm_level, rise_rate FROM derived WHERE device = 'kim-long-01' ORDER BY time`))
    // Readings minutes apart: each has its own `derived` point, at its own time.
    expect(col(dv, 'time')).toEqual(col(wl, 'time'))
    expect(col(dv, 'alarm_level')).toEqual([1, 1, 1, 1, 2, 2, 2, 2])
    expect(col(dv, 'rise_rate')[6] as number).toBeCloseTo(0.3, 9)
    const aq = await q(`SELECT aqi, aqi_dominant FROM derived WHERE device = 'aq-hue-01' ORDER BY time`)
    expect(aq!.values.at(-1)!.slice(1)).toEqual([105, 'no2'])
    const tags = await influxd.query(`SHOW TAG KEYS FROM readings`, 'ioc')
    expect(tags.results[0]!.series![0]!.values.flat()).toEqual(expect.arrayContaining(['device', 'kind', 'station', 'district']))
    const st = await waitFor(() => q(`SELECT online, fw, uptime, queue_dropped FROM device_status WHERE device = 'kim-long-01'`))
    expect(st.values[0]!.slice(1)).toEqual([1, '1.0', 12, 0])
    const rj = await waitFor(() => q(`SELECT count, reason FROM rejects WHERE device = 'kim-long-01'`))
    expect(rj.values[0]!.slice(1)).toEqual([1, 'out_of_range'])
    const types = async (m: string) =>
      Object.fromEntries(
        (await influxd.query(`SHOW FIELD KEYS FROM ${m}`, 'ioc')).results[0]!.series![0]!.values as Array<[string, string]>,
      )
    expect(await types('readings')).toEqual({
      battery: 'float',
      no2: 'float',
      o3: 'float',
      pm10: 'float',
      pm25: 'float',
      seq: 'integer',
      water_level: 'float',
    })
    expect(await types('derived')).toEqual({ alarm_level: 'float', rise_rate: 'float', aqi: 'float', aqi_dominant: 'string' })
  }, 60_000)
})
