import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiApp } from '../../gateway/api/types.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { Role } from '../../gateway/registry/types.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import { StoreError, type TimeSeriesStore } from '../../gateway/store/types.ts'
import { tempDir } from '../support/services.ts'
import { readingsApi } from './readings-app.ts'

// The readings API over the real SQLite store, through Fastify's inject (auth hook and schema
// validation included).

const T0 = Date.UTC(2026, 9, 1, 0, 0, 0) // 2026-10-01T00:00:00Z
const MIN = 60_000
const system = { type: 'system' as const, id: 'test' }

describe('readings API', () => {
  const dir = tempDir('iocgw-readings-api-')
  let app: ApiApp
  let store: SqliteTimeSeriesStore
  let registry: ReturnType<typeof openRegistry>
  const tokens = {} as Record<Role, string>
  const failing = { fail: false }

  beforeAll(async () => {
    registry = openRegistry(dir.path)
    const logger = createLogger('silent')
    const metrics = new Metrics({ defaults: false })
    store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics })
    // A store that can be made to fail, to see the 503.
    const flaky = new Proxy(store, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => {
          if (failing.fail && key !== 'write') return Promise.reject(new StoreError('unavailable', 'InfluxDB query failed: ECONNREFUSED'))
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    }) as TimeSeriesStore
    app = await readingsApi({ registry, store, routes: flaky, metrics, logger })
    for (const role of ['admin', 'technician', 'officer', 'viewer'] as const)
      tokens[role] = (await registry.createToken({ role, name: role }, system)).secret
    await registry.createDevice(
      { id: 'kim-long-1', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', district: 'Huế' },
      system,
    )
    await registry.createDevice({ id: 'phu-oc-1', kind: 'water_level', name: 'Trạm Phú Ốc', station: 'phu-oc' }, system)
    await registry.createDevice({ id: 'aq-hue-1', kind: 'air_quality', name: 'Quan trắc không khí Huế', station: 'kim-long' }, system)
    await registry.createDevice({ id: 'silent-1', kind: 'rain_gauge', name: 'Chưa gửi' }, system)
    const wl = (device: string, station: string, i: number, level: number) => ({
      measurement: 'readings',
      tags: { device, kind: 'water_level', station, ...(station === 'kim-long' ? { district: 'Huế' } : {}) },
      fields: { water_level: level, seq: i, alarm_level: level >= 2.35 ? 1 : 0 },
      ts: T0 + i * MIN,
    })
    await store.write([
      ...[0, 1, 2, 3, 4, 5].map((i) => wl('kim-long-1', 'kim-long', i, 2 + i / 10)),
      wl('phu-oc-1', 'phu-oc', 0, 1.1),
      {
        measurement: 'readings',
        tags: { device: 'aq-hue-1', kind: 'air_quality', station: 'kim-long' },
        fields: { pm25: 40, aqi: 105, aqi_dominant: 'pm25' },
        ts: T0 + 2 * MIN,
      },
    ])
  })
  afterAll(async () => {
    await app?.close()
    await store?.close()
    await registry?.close()
    dir.remove()
  })

  const get = (url: string, role: Role | null = 'viewer') =>
    app.inject({ method: 'GET', url, headers: role ? { authorization: `Bearer ${tokens[role]}` } : {} })

  it('answers raw readings with the canonical unit and ISO times, from inclusive and to exclusive', async () => {
    const res = await get(`/api/v1/devices/kim-long-1/readings?metric=water_level&from=${T0 + MIN}&to=2026-10-01T00:04:00Z`)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      device: 'kim-long-1',
      metric: 'water_level',
      unit: 'm',
      points: [
        { ts: '2026-10-01T00:01:00.000Z', value: 2.1 },
        { ts: '2026-10-01T00:02:00.000Z', value: 2.2 },
        { ts: '2026-10-01T00:03:00.000Z', value: 2.3 },
      ],
    })
    // Offsets are honoured: 07:00+07:00 is 00:00Z.
    const local = await get(
      '/api/v1/devices/kim-long-1/readings?metric=water_level&from=2026-10-01T07:00:00%2B07:00&to=2026-10-01T07:01:00%2B07:00',
    )
    expect(local.json().points).toEqual([{ ts: '2026-10-01T00:00:00.000Z', value: 2 }])
  })

  it('aggregates with every and fn, mean by default', async () => {
    const base = `/api/v1/devices/kim-long-1/readings?metric=water_level&from=2026-10-01&to=${T0 + 6 * MIN}&every=3m`
    const mean = (await get(base)).json()
    expect(mean).toMatchObject({ unit: 'm', every: '3m', fn: 'mean' })
    expect(mean.points).toHaveLength(2)
    expect(mean.points[0].ts).toBe('2026-10-01T00:00:00.000Z')
    expect(mean.points[0].value).toBeCloseTo(2.1, 10)
    expect(mean.points[1].value).toBeCloseTo(2.4, 10)
    expect((await get(`${base}&fn=max`)).json().points.map((p: { value: number }) => p.value)).toEqual([2.2, 2.5])
    expect((await get(`${base}&fn=min`)).json().points.map((p: { value: number }) => p.value)).toEqual([2, 2.3])
    expect((await get(`${base}&fn=last`)).json().points.map((p: { value: number }) => p.value)).toEqual([2.2, 2.5])
    const derived = await get(`/api/v1/devices/kim-long-1/readings?metric=alarm_level&from=2026-10-01&to=2026-10-02&every=1h&fn=max`)
    expect(derived.json()).toMatchObject({ unit: '', points: [{ ts: '2026-10-01T00:00:00.000Z', value: 1 }] })
    const str = await get(`/api/v1/devices/aq-hue-1/readings?metric=aqi_dominant&from=2026-10-01&to=2026-10-02`)
    expect(str.json().points).toEqual([{ ts: '2026-10-01T00:02:00.000Z', value: 'pm25' }])
  })

  it('says when the answer was cut at the limit', async () => {
    const res = (await get(`/api/v1/devices/kim-long-1/readings?metric=water_level&from=2026-10-01&to=2026-10-02&limit=2`)).json()
    expect(res.points).toHaveLength(2)
    expect(res.truncated).toBe(true)
    const all = (await get(`/api/v1/devices/kim-long-1/readings?metric=water_level&from=2026-10-01&to=2026-10-02`)).json()
    expect(all.points).toHaveLength(6)
    expect(all.truncated).toBeUndefined()
  })

  it('answers an empty list for a known device without readings, and 404 for an unknown one', async () => {
    expect((await get('/api/v1/devices/silent-1/readings?metric=rainfall')).json()).toEqual({
      device: 'silent-1',
      metric: 'rainfall',
      unit: 'mm',
      points: [],
    })
    const res = await get('/api/v1/devices/nope-1/readings?metric=water_level')
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'device "nope-1" does not exist' })
  })

  it.each([
    ['metric=depth', /querystring\/metric must be one of/],
    ['', /querystring\/metric is required/],
    ['metric=water_level&from=yesterday', /querystring\/from must match/],
    ['metric=water_level&from=2026-10-01T00:00:00', /querystring\/from must match/],
    ['metric=water_level&to=2026-13-45', /querystring\/to is not a valid time/],
    ['metric=water_level&from=2026-10-02&to=2026-10-01', /querystring\/from must be before querystring\/to/],
    ['metric=water_level&every=5', /querystring\/every must match/],
    ['metric=water_level&every=1x', /querystring\/every must match/],
    ['metric=water_level&every=500ms', /querystring\/every must be at least 1s/],
    ['metric=water_level&every=1s&from=2020-01-01&to=2026-01-01', /buckets/],
    ['metric=water_level&fn=max', /querystring\/fn needs querystring\/every/],
    ['metric=water_level&every=1m&fn=median', /querystring\/fn must be one of/],
    ['metric=water_level&limit=0', /querystring\/limit/],
    ['metric=water_level&unknown=1', /querystring\/unknown is not an accepted field/],
  ])('refuses %s with a 400 naming the field', async (qs, message) => {
    const res = await get(`/api/v1/devices/kim-long-1/readings?${qs}`)
    expect(res.statusCode).toBe(400)
    expect(res.json().message).toMatch(message)
  })

  it('refuses odd device ids with a 400', async () => {
    for (const id of ['..%2Fx', 'A', 'a%2Fb', 'x'.repeat(80)]) {
      const res = await get(`/api/v1/devices/${id}/readings?metric=water_level`)
      expect(res.statusCode, id).toBe(400)
      expect(res.json().message).toMatch(/params\/id/)
    }
  })

  it('answers the latest values per device, filtered by kind and station, with names from the registry', async () => {
    const res = await get('/api/v1/readings/latest?station=kim-long')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      items: [
        {
          device: 'aq-hue-1',
          name: 'Quan trắc không khí Huế',
          kind: 'air_quality',
          station: 'kim-long',
          district: null,
          ts: '2026-10-01T00:02:00.000Z',
          values: { pm25: 40, aqi: 105, aqi_dominant: 'pm25' },
        },
        {
          device: 'kim-long-1',
          name: 'Trạm Kim Long',
          kind: 'water_level',
          station: 'kim-long',
          district: 'Huế',
          ts: '2026-10-01T00:05:00.000Z',
          values: { water_level: 2.5, alarm_level: 1 },
        },
      ],
      next: null,
    })
    const wl = (await get('/api/v1/readings/latest?kind=water_level')).json()
    expect(wl.items.map((i: { device: string }) => i.device)).toEqual(['kim-long-1', 'phu-oc-1'])
    expect((await get('/api/v1/readings/latest?kind=camera')).json()).toEqual({ items: [], next: null })
  })

  it('pages the latest values with a cursor', async () => {
    const seen: string[] = []
    let url = '/api/v1/readings/latest?limit=1'
    for (let i = 0; i < 5; i++) {
      const page = (await get(url)).json()
      seen.push(...page.items.map((x: { device: string }) => x.device))
      if (!page.next) break
      url = `/api/v1/readings/latest?limit=1&cursor=${page.next}`
    }
    expect(seen).toEqual(['aq-hue-1', 'kim-long-1', 'phu-oc-1'])
    expect((await get('/api/v1/readings/latest?kind=lake')).statusCode).toBe(400)
  })

  it('lets viewer, officer, technician and admin read, and nobody without a valid token', async () => {
    for (const role of ['viewer', 'officer', 'technician', 'admin'] as const) {
      expect((await get('/api/v1/readings/latest', role)).statusCode, role).toBe(200)
      expect((await get('/api/v1/devices/kim-long-1/readings?metric=water_level', role)).statusCode, role).toBe(200)
    }
    expect((await get('/api/v1/readings/latest', null)).statusCode).toBe(401)
    const bad = await app.inject({ method: 'GET', url: '/api/v1/readings/latest', headers: { authorization: 'Bearer nope' } })
    expect(bad.statusCode).toBe(401)
  })

  it('answers 503 with the reason when the store cannot answer', async () => {
    failing.fail = true
    try {
      const res = await get('/api/v1/devices/kim-long-1/readings?metric=water_level')
      expect(res.statusCode).toBe(503)
      expect(res.json().message).toMatch(/time-series store unavailable/)
      expect((await get('/api/v1/readings/latest')).statusCode).toBe(503)
    } finally {
      failing.fail = false
    }
  })
})
