import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkEdgeConfig, loadEdgeConfig } from '../../edge/config.ts'
import { hydrograph, simulate } from '../../edge/drivers/simulated.ts'
import { ReadingQueue } from '../../edge/queue.ts'
import { checkReading } from '../../gateway/ingest/checks.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from '../ingest/stack.ts'
import { exited, ROOT, spawnAgent, writeEdgeConfig } from './support.ts'

const base = {
  device: { id: 'dev-01', password: 'x' },
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  driver: { type: 'simulated', sensor: 'water_level' },
}

describe('edge config', () => {
  it('the example config is valid', async () => {
    const cfg = await loadEdgeConfig(join(ROOT, 'config/edge.example.yaml'), { IOC_DEVICE_SECRET: 's' })
    expect(cfg.driver.type).toBe('simulated')
    expect(cfg.password).toBe('s')
  })
  const bad: Array<[string, unknown, RegExp]> = [
    ['unknown top-level key', { ...base, foo: 1 }, /^foo is not a known key$/],
    ['bad device id', { ...base, device: { id: 'A b', password: 'x' } }, /^device\.id /],
    ['bad url', { ...base, mqtt: { url: 'http://x' } }, /^mqtt\.url /],
    [
      'unknown driver',
      { ...base, driver: { type: 'opcua' } },
      /driver\.type "opcua" is not a driver; choose one of simulated, modbus-tcp, modbus-rtu/,
    ],
    ['driver key', { ...base, driver: { type: 'simulated', sensor: 'water_level', sped: 1 } }, /^driver\.sped is not a known key$/],
    [
      'register type',
      { ...base, driver: { type: 'modbus-tcp', host: 'h', registers: [{ metric: 'water_level', address: 0, type: 'int64' }] } },
      /^driver\.registers\.0\.type /,
    ],
    ['missing secret env', { ...base, device: { id: 'dev-01', password_env: 'NOPE_SECRET' } }, /NOPE_SECRET is not set/],
    ['interval too small', { ...base, interval_s: 0 }, /^interval_s /],
  ]
  it.each(bad)('%s → one line naming the key', async (_n, raw, msg) => {
    const err = await checkEdgeConfig(raw, '/tmp', {}).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toMatch(msg)
    expect(err?.message).not.toContain('\n')
  })
  it('the CLI prints one line and exits 2 on a bad config', async () => {
    const dir = tempDir()
    const a = spawnAgent(writeEdgeConfig(dir.path, { ...base, interval_s: 'fast' }))
    expect(await exited(a)).toBe(2)
    expect(a.output().trim().split('\n')).toHaveLength(1)
    expect(a.output()).toMatch(/interval_s/)
    dir.remove()
  })
})

describe('simulated driver', () => {
  const cfg = (sensor: string, seed = 1) =>
    ({
      type: 'simulated',
      sensor,
      seed,
      time_scale: 1,
      base_m: 0.6,
      peak_m: 3.8,
      rise_h: 18,
      period_h: 120,
      peak_rain_mm_h: 40,
      pm25_base: 30,
      noise: 0.05,
    }) as never
  it('is deterministic from the seed and differs between seeds', () => {
    const t = Date.UTC(2025, 9, 28, 3)
    expect(simulate(cfg('water_level', 7), t, 60)).toEqual(simulate(cfg('water_level', 7), t, 60))
    expect(simulate(cfg('water_level', 7), t, 60)).not.toEqual(simulate(cfg('water_level', 8), t, 60))
  })
  it('a flood hydrograph: rises to the peak then recedes', () => {
    expect(hydrograph(0, 18)).toBe(0)
    expect(hydrograph(18, 18)).toBeCloseTo(1, 9)
    expect(hydrograph(9, 18)).toBeLessThan(1)
    expect(hydrograph(40, 18)).toBeLessThan(hydrograph(30, 18))
    // Over one period the level spans base to about peak, crossing Kim Long's level III (3.5 m).
    const levels = Array.from({ length: 120 * 6 }, (_, i) => simulate(cfg('water_level'), i * 600_000, 600).water_level!)
    expect(Math.min(...levels)).toBeLessThan(0.7)
    expect(Math.max(...levels)).toBeGreaterThan(3.5)
  })
  it('air quality follows a daily pattern: PM2.5 at the morning rush above the small hours', () => {
    const day = Date.UTC(2025, 9, 28) - 7 * 3_600_000 // local midnight (UTC+7)
    const at = (h: number) => simulate(cfg('air_quality'), day + h * 3_600_000, 60)
    expect(at(7.5).pm25!).toBeGreaterThan(at(2).pm25!)
    expect(at(14).o3!).toBeGreaterThan(at(2).o3!)
  })
  it('every simulated sample passes the gateway checks for its kind', () => {
    const kinds = { water_level: 'water_level', rain_gauge: 'rain_gauge', air_quality: 'air_quality' } as const
    for (const [sensor, kind] of Object.entries(kinds)) {
      for (let i = 0; i < 500; i++) {
        const ts = Date.now() - (i * 3_600_000) / 10
        const values = simulate(cfg(sensor, i), ts, 300)
        expect(() =>
          checkReading({ ts, seq: i, values, index: null }, kind, Date.now(), { maxFutureMs: 300_000, maxAgeMs: 30 * 86_400_000 }),
        ).not.toThrow()
      }
    }
  })
})

describe('disk queue', () => {
  it('keeps seq across reopen, drops oldest past the size bound and old readings past the age bound, counting both', () => {
    const dir = tempDir()
    const path = join(dir.path, 'q.db')
    let q = new ReadingQueue(path, { maxReadings: 5, maxAgeMs: 3_600_000 })
    const now = Date.now()
    for (let i = 0; i < 8; i++) q.push(now + i, { water_level: i })
    expect(q.stats()).toEqual({ depth: 5, dropped: 3, nextSeq: 8 })
    expect(q.peek(10).map((r) => r.seq)).toEqual([3, 4, 5, 6, 7])
    q.ack([q.peek(1)[0]!.id])
    q.close()
    q = new ReadingQueue(path, { maxReadings: 5, maxAgeMs: 3_600_000 })
    expect(q.stats()).toEqual({ depth: 4, dropped: 3, nextSeq: 8 })
    q.push(now + 2 * 3_600_000, { water_level: 9 })
    expect(q.stats()).toEqual({ depth: 1, dropped: 7, nextSeq: 9 })
    q.close()
    dir.remove()
  })
})

describe('agent over MQTT: status with will, config and commands', () => {
  const dir = tempDir()
  let stack: Stack
  let secret: string
  let port: number
  const acks: Array<Record<string, unknown>> = []
  beforeAll(async () => {
    port = await freePort()
    stack = await startStack({
      dataDir: join(dir.path, 'gw'),
      mqttPort: port,
      cmd: async (msg) => {
        if (msg.subtopic === 'cmd/ack') acks.push(JSON.parse(msg.payload.toString()) as Record<string, unknown>)
      },
    })
    secret = (
      await stack.registry.createDevice(
        { id: 'rain-07', kind: 'rain_gauge', name: 'Trạm mưa', station: 'kim-long' },
        { type: 'system', id: 'test' },
      )
    ).secret
    await stack.registry.createDevice({ id: 'watcher-01', kind: 'water_level', name: 'watcher' }, { type: 'system', id: 'test' })
  })
  afterAll(async () => {
    await stack.close()
    dir.remove()
  })

  it('publishes retained status, obeys config (interval), answers ping and read-now on cmd/ack, and its will says offline after kill -9', async () => {
    const statuses: Array<{ online: boolean; interval_s?: number; queue_dropped?: number }> = []
    stack.bus.on('device-status', (s) => statuses.push(s))
    const cfg = writeEdgeConfig(dir.path, {
      device: { id: 'rain-07', password: secret },
      mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnect_ms: 200 },
      interval_s: 60,
      status_interval_s: 1,
      queue: { path: join(dir.path, 'rain.db') },
      driver: { type: 'simulated', sensor: 'rain_gauge', seed: 2 },
    })
    const a = spawnAgent(cfg)
    try {
      await waitFor(() => statuses.some((s) => s.online), 20_000)
      const count = async () =>
        (await stack.store.readings({ device: 'rain-07', metric: 'rainfall', from: 0, to: Date.now() + 1000, limit: 10_000 })).length
      await waitFor(async () => (await count()) === 1, 10_000)

      // The gateway sets a 0.2 s interval on the retained config topic.
      await stack.broker.publish('devices/rain-07/config', JSON.stringify({ interval_s: 0.2 }), { qos: 1, retain: true })
      await waitFor(async () => (await count()) >= 6, 20_000)

      // Commands, answered on cmd/ack (routed by the broker to the `cmd` handler).
      await stack.broker.publish('devices/rain-07/cmd', JSON.stringify({ id: 'c1', cmd: 'ping' }), { qos: 1, retain: false })
      const pong = await waitFor(() => acks.find((x) => x.id === 'c1'), 10_000)
      expect(pong).toMatchObject({ cmd: 'ping', ok: true, result: { pong: true } })
      const before = await count()
      await stack.broker.publish('devices/rain-07/cmd', JSON.stringify({ id: 'c2', cmd: 'read-now' }), { qos: 1, retain: false })
      const read = await waitFor(() => acks.find((x) => x.id === 'c2'), 10_000)
      expect(read).toMatchObject({ cmd: 'read-now', ok: true, result: { values: { interval_s: expect.any(Number) } } })
      await waitFor(async () => (await count()) > before, 10_000)
      await stack.broker.publish('devices/rain-07/cmd', JSON.stringify({ id: 'c3', cmd: 'selfdestruct' }), { qos: 1, retain: false })
      expect(await waitFor(() => acks.find((x) => x.id === 'c3'), 10_000)).toMatchObject({
        ok: false,
        error: expect.stringMatching(/unknown command/),
      })
      // The retained status is stored with the queue figures.
      const st = await stack.store.queryPoints({
        measurement: 'device_status',
        where: { device: 'rain-07' },
        from: 0,
        to: Date.now() + 1000,
        order: 'desc',
        limit: 1,
      })
      expect(st[0]!.fields).toMatchObject({ online: 1, queue_dropped: 0, fw: 'iocgw-edge/0.1.0' })
    } finally {
      a.kill('SIGKILL')
      await exited(a)
    }
    // MQTT 3.1.1 §3.1.2.5: the will (offline, retained) is published when the link drops.
    await waitFor(() => statuses.length > 0 && statuses[statuses.length - 1]!.online === false, 30_000)
  }, 120_000)
})
