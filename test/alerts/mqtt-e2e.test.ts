import mqtt, { type MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { alertRoutes } from '../../gateway/api/routes/alerts.ts'
import { eventRoutes } from '../../gateway/api/routes/events.ts'
import { ruleRoutes } from '../../gateway/api/routes/rules.ts'
import { subscriptionRoutes } from '../../gateway/api/routes/subscriptions.ts'
import { notifyRoutes } from '../../gateway/api/routes/notify.ts'
import { buildApi, withDeps } from '../../gateway/api/server.ts'
import { createBroker } from '../../gateway/broker/index.ts'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { createIngest } from '../../gateway/ingest/index.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { openTimeSeriesStore } from '../../gateway/store/index.ts'
import { useCleanups } from '../support/cleanups.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStandIns } from '../notify/standins.ts'
import { floodAlerting, KIM_LONG_OFFICER, metrics, quietLogger, stations } from './helpers.ts'

// The whole path on real sockets: a gauge publishes over MQTT (QoS 1) to the embedded broker,
// ingest stores it and announces it, the engine raises one alert, the change goes out on MQTT
// alerts/..., on SSE, into the time-series store, and through the outbox to the provider stand-ins.

const system = { type: 'system' as const, id: 'test' }

describe('end to end over real MQTT and HTTP', () => {
  const cleanup = useCleanups()

  it('Kim Long 0.8 -> 3.7 m: one alert I -> II -> III on alerts/water_level/kim-long, SSE, store, SMS and Zalo; ack over HTTP', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const logger = quietLogger()
    const m = metrics()
    const st = stations()
    const prov = await startStandIns()
    cleanup(() => prov.close())
    const registry = openRegistry(dir.path)
    cleanup(() => registry.close())
    const store = await openTimeSeriesStore({ dataDir: dir.path, logger, metrics: m })
    cleanup(() => store.close())
    const bus = new GatewayBus()
    const ingest = createIngest({ registry, store, bus, logger, metrics: m, stations: st, config: { lateAfterSeconds: 86_400 } })
    const broker = await createBroker({
      registry,
      metrics: m,
      logger,
      bus,
      routes: { telemetry: ingest.telemetry, status: ingest.status },
      config: { host: '127.0.0.1', port: 0, wsPort: 0, wsPath: '/mqtt' },
    })
    cleanup(() => broker.close())
    const ports = await broker.listen()

    const { alerting, notifier } = floodAlerting(
      { dataDir: dir.path, bus, prov, minDurationS: 120, logger, metrics: m },
      {
        lateAfterMs: 86_400_000,
        publish: (topic, payload, o) => broker.publish(topic, payload, o),
        annotate: (p) => store.write([p]),
      },
    )
    cleanup(
      () => notifier.close(),
      () => alerting.close(),
    )
    const officerContact = await notifier.contacts.create(KIM_LONG_OFFICER)
    await notifier.contacts.create({
      name: 'Trực ban Phú Ốc',
      phone: '0905999888',
      role: 'officer',
      stations: ['phu-oc'],
      channels: ['sms', 'zalo_zns'],
    })

    const api = await buildApi({
      registry,
      metrics: m,
      logger,
      config: { authFailuresPerMinute: 1000 },
      readiness: async () => ({}),
      routes: withDeps({ alerting, notifier, bus }, alertRoutes, ruleRoutes, subscriptionRoutes, notifyRoutes, eventRoutes),
    })
    cleanup(() => api.close())
    await api.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}/api/v1`
    const officer = (await registry.createToken({ role: 'officer', name: 'Nguyễn Văn An' }, system)).secret
    const viewer = (await registry.createToken({ role: 'viewer', name: 'Màn hình IOC' }, system)).secret

    // SSE stream as a browser would hold it.
    const sse = new AbortController()
    cleanup(() => sse.abort())
    const events = await fetch(`${base}/events?readings=true`, { headers: { authorization: `Bearer ${viewer}` }, signal: sse.signal })
    expect(events.status).toBe(200)
    expect(events.headers.get('content-type')).toContain('text/event-stream')
    let sseText = ''
    void (async () => {
      const dec = new TextDecoder()
      try {
        for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) sseText += dec.decode(chunk)
      } catch {
        /* aborted */
      }
    })()

    // An integration subscribed to alerts/# with an API token (docs/mqtt.md "Integrations").
    const integration: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      username: 'token',
      password: officer,
      clientId: '',
      reconnectPeriod: 0,
    })
    cleanup(() => integration.endAsync())
    const got: Array<{ topic: string; qos: number; body: Record<string, unknown> }> = []
    integration.on('message', (topic, payload, packet) => got.push({ topic, qos: packet.qos, body: JSON.parse(payload.toString()) }))
    await integration.subscribeAsync('alerts/#', { qos: 1 })

    const { secret } = await registry.createDevice(
      { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', district: 'phu-hoi' },
      system,
    )
    const gauge = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      username: 'kim-long-01',
      password: secret,
      clientId: 'kim-long-01',
      reconnectPeriod: 0,
    })
    cleanup(() => gauge.endAsync())
    const start = Date.now() - 3 * 3_600_000
    const levels: number[] = []
    for (let v = 0.8; v <= 3.7 + 1e-9; v += 0.1) levels.push(Math.round(v * 100) / 100)
    levels.splice(12, 0, 1.96, 2.03, 1.97, 2.02) // wobble around II at one-minute spacing: never 2 min above
    levels.push(3.7, 3.45, 3.55, 3.42, 3.7)
    let seq = 0
    for (const v of levels) {
      seq++
      await gauge.publishAsync(
        'devices/kim-long-01/telemetry',
        JSON.stringify({ ts: start + seq * 60_000, seq, values: { water_level: v, battery: 12.6 } }),
        { qos: 1 },
      )
    }

    await waitFor(() => got.length >= 3, 10_000)
    await waitFor(() => prov.delivered().length >= 9, 10_000)
    expect(
      got.map((g) => `${g.topic} qos${g.qos} ${String((g.body.change as { action: string }).action)}:${String(g.body.level)}`),
    ).toEqual([
      'alerts/water_level/kim-long qos1 opened:1',
      'alerts/water_level/kim-long qos1 raised:2',
      'alerts/water_level/kim-long qos1 raised:3',
    ])
    const id = String(got[0]!.body.id)
    expect(new Set(got.map((g) => g.body.id))).toEqual(new Set([id]))

    // SMS and Zalo at each raise, to the Kim Long officer only.
    expect(prov.delivered('esms').map((r) => r.body.Phone)).toEqual(['0905123456', '0905123456', '0905123456'])
    expect(prov.delivered('esms').map((r) => String(r.body.Content).split(' - ')[1]?.split(' Kim Long')[0])).toEqual([
      'BAO DONG I',
      'BAO DONG II',
      'BAO DONG III',
    ])
    expect(prov.delivered('zalo_zns')).toHaveLength(3)
    expect(prov.delivered('zalo_oa').map((r) => (r.body.recipient as { user_id: string }).user_id)).toEqual([
      'zu-1001',
      'zu-1001',
      'zu-1001',
    ])

    // The API: list, show, acknowledge (officer), refused for a viewer.
    const auth = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' })
    const list = (await (await fetch(`${base}/alerts?state=open&kind=water_level&station=kim-long`, { headers: auth(viewer) })).json()) as {
      items: Array<{ id: string; level: number }>
      next: null
    }
    expect(list).toMatchObject({ items: [{ id, level: 3 }], next: null })
    expect((await fetch(`${base}/alerts/${id}/ack`, { method: 'POST', headers: auth(viewer), body: '{}' })).status).toBe(403)
    const ack = await fetch(`${base}/alerts/${id}/ack`, {
      method: 'POST',
      headers: auth(officer),
      body: JSON.stringify({ note: 'Đã thông báo phường' }),
    })
    expect(ack.status).toBe(200)
    expect(await ack.json()).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'Nguyễn Văn An', note: 'Đã thông báo phường' } })
    expect((await fetch(`${base}/alerts/${id}/ack`, { method: 'POST', headers: auth(officer), body: '{}' })).status).toBe(409)
    expect((await fetch(`${base}/alerts/nope/resolve`, { method: 'POST', headers: auth(officer), body: '{}' })).status).toBe(404)
    await waitFor(() => got.length === 4, 5000)
    expect(got[3]).toMatchObject({
      topic: 'alerts/water_level/kim-long',
      body: { state: 'acknowledged', change: { action: 'acknowledged', by: 'Nguyễn Văn An' } },
    })

    // SSE carried the alert changes and latest readings.
    await waitFor(() => sseText.includes('"action":"acknowledged"') && sseText.includes('event: reading'), 5000)
    expect(sseText.match(/event: alert/g)).toHaveLength(4)

    // Grafana annotations: each change is a point of measurement `alerts`.
    await waitFor(async () => (await store.queryPoints({ measurement: 'alerts', from: 0, to: Date.now() + 1000 })).length === 4, 5000)
    const points = await store.queryPoints({ measurement: 'alerts', from: 0, to: Date.now() + 1000 })
    expect(points.map((p) => p.tags.severity)).toEqual(['minor', 'major', 'critical', 'critical'])
    expect(points[0]).toMatchObject({ tags: { kind: 'water_level', rule: 'water-level', station: 'kim-long' }, fields: { id, level: 1 } })

    // Rules and subscriptions through the API; a bad rule names its field.
    const bad = await fetch(`${base}/rules`, {
      method: 'PUT',
      headers: auth((await registry.createToken({ role: 'admin', name: 'admin' }, system)).secret),
      body: JSON.stringify({ version: 1, rules: [{ id: 'r', type: 'rainfall', window_s: 3600, thresholds_mm: [50, 10] }] }),
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toBe('body/rules[0].thresholds_mm must be in ascending order')
    const subs = (await (await fetch(`${base}/subscriptions`, { headers: auth(officer) })).json()) as { items: Array<{ id: string }> }
    expect(subs.items.map((s) => s.id)).toContain(officerContact.id)
    const test = await fetch(`${base}/notify/test`, {
      method: 'POST',
      headers: auth(officer),
      body: JSON.stringify({ contact: officerContact.id }),
    })
    expect(await test.json()).toEqual({
      results: [
        { channel: 'sms', ok: true },
        { channel: 'zalo_zns', ok: true },
        { channel: 'zalo_oa', ok: true },
      ],
    })

    // Falling back past the hysteresis resolves the alert.
    for (const v of [3.3, 3.2, 3.1, 1.8, 1.7, 1.6, 0.8, 0.7, 0.6, 0.5]) {
      seq++
      await gauge.publishAsync(
        'devices/kim-long-01/telemetry',
        JSON.stringify({ ts: start + seq * 60_000, seq, values: { water_level: v } }),
        { qos: 1 },
      )
    }
    await waitFor(() => got.some((g) => (g.body.change as { action: string }).action === 'resolved'), 5000)
    const final = (await (await fetch(`${base}/alerts/${id}`, { headers: auth(viewer) })).json()) as {
      state: string
      history: Array<{ action: string }>
    }
    expect(final.state).toBe('resolved')
    expect(final.history.map((h) => h.action)).toEqual(['opened', 'raised', 'raised', 'acknowledged', 'lowered', 'lowered', 'resolved'])
  })
})
