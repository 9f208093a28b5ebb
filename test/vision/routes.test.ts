import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cameraRoutes } from '../../gateway/api/routes/cameras.ts'
import { buildApi, withDeps, type ApiApp } from '../../gateway/api/server.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { Device } from '../../gateway/registry/types.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { tempDir } from '../support/services.ts'
import { makeVision, publish, sample, visionConfig } from './support.ts'
import { LOWER_HALF } from '../support/zones.ts'

// GET /api/v1/cameras/:id/snapshot and /detections on the real API core, registry and pipeline.

const dir = tempDir('iocgw-vision-api-')
const registry = openRegistry(dir.path)
const v = makeVision(
  visionConfig({
    cameras: {
      'cam-api-01': {
        zones: [
          {
            id: 'road',
            kind: 'count',
            polygon: LOWER_HALF,
          },
        ],
      },
    },
  }),
)
let app: ApiApp
let cam: Device
const tokens: Record<string, string> = {}

beforeAll(async () => {
  const system = { type: 'system' as const, id: 'test' }
  cam = (await registry.createDevice({ id: 'cam-api-01', kind: 'camera', name: 'Cầu Trường Tiền', station: 'truong-tien' }, system)).device
  await registry.createDevice({ id: 'gauge-api-01', kind: 'water_level', name: 'Kim Long' }, system)
  for (const role of ['viewer', 'officer'] as const) tokens[role] = (await registry.createToken({ role, name: role }, system)).secret
  app = await buildApi({
    registry,
    metrics: v.metrics,
    logger: createLogger('silent'),
    config: { authFailuresPerMinute: 1_000_000 },
    readiness: async () => ({ vision: { ok: v.vision.ready() } }),
    routes: withDeps({ vision: v.vision, registry }, cameraRoutes),
  })
  await app.ready()
  await v.vision.whenReady()
})
afterAll(async () => {
  await app?.close()
  await v.vision.close()
  await registry.close()
  dir.remove()
})

const auth = (role: string) => ({ authorization: `Bearer ${tokens[role]}` })

describe('camera routes', () => {
  it('answers 404 with a useful message before any frame, and for a device that is not a camera', async () => {
    const none = await app.inject({ url: '/api/v1/cameras/cam-api-01/snapshot', headers: auth('viewer') })
    expect(none.statusCode).toBe(404)
    expect(none.json().message).toContain('devices/cam-api-01/frames')
    const gauge = await app.inject({ url: '/api/v1/cameras/gauge-api-01/detections', headers: auth('viewer') })
    expect(gauge.statusCode).toBe(404)
    expect((await app.inject({ url: '/api/v1/cameras/cam-api-01/snapshot' })).statusCode).toBe(401)
  })

  it('serves the drawn snapshot as JPEG and the detection records in the shape of docs/api.md', async () => {
    await v.vision.frames(publish(cam, sample('coco_000000001532.jpg'), 'frames/1700000000000'))
    await v.vision.frames(publish(cam, sample('flood_lagos_2019.jpg'), 'frames/1700000060000'))
    await v.vision.pipeline.settled()

    const snap = await app.inject({ url: '/api/v1/cameras/cam-api-01/snapshot', headers: auth('viewer') })
    expect(snap.statusCode).toBe(200)
    expect(snap.headers['content-type']).toBe('image/jpeg')
    const meta = await sharp(snap.rawPayload).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1280, 853])
    // The overlay changed the picture (boxes and zone outline drawn).
    const plain = await sharp(sample('flood_lagos_2019.jpg')).raw().toBuffer()
    const drawn = await sharp(snap.rawPayload).raw().toBuffer()
    let changed = 0
    for (let i = 0; i < plain.length; i += 3) if (Math.abs(plain[i]! - drawn[i]!) > 60) changed++
    expect(changed).toBeGreaterThan(2000)

    const det = await app.inject({
      url: '/api/v1/cameras/cam-api-01/detections?from=2023-11-14T22:13:00Z&to=1700000100000&limit=1',
      headers: auth('officer'),
    })
    expect(det.statusCode).toBe(200)
    const page = det.json() as { items: Array<Record<string, unknown>>; next: string | null }
    expect(page.items).toHaveLength(1)
    expect(page.next).toBe('1700000000000')
    expect(page.items[0]).toMatchObject({
      ts: '2023-11-14T22:13:20.000Z',
      camera: 'cam-api-01',
      counts: { car: 4, motorcycle: 0, bus: 0, truck: 1, bicycle: 0 },
    })
    const objects = page.items[0]!.objects as Array<{ class: string; score: number; box: number[] }>
    expect(objects.find((o) => o.class === 'truck')).toEqual({ class: 'truck', score: 0.644, box: [105, 373, 186, 437] })
    const second = await app.inject({
      url: `/api/v1/cameras/cam-api-01/detections?from=0&to=1700000100000&cursor=${page.next}`,
      headers: auth('viewer'),
    })
    expect(second.json().items.map((r: { ts: string }) => r.ts)).toEqual(['2023-11-14T22:14:20.000Z'])
  })

  it('refuses bad query values with a message naming the field', async () => {
    const bad = await app.inject({ url: '/api/v1/cameras/cam-api-01/detections?from=yesterday', headers: auth('viewer') })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toContain('querystring/from')
    const extra = await app.inject({ url: '/api/v1/cameras/cam-api-01/detections?camera=x', headers: auth('viewer') })
    expect(extra.statusCode).toBe(400)
    const odd = await app.inject({ url: '/api/v1/cameras/..%2Fx/snapshot', headers: auth('viewer') })
    expect(odd.statusCode).toBe(400)
  })
})
