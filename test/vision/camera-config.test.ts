import { Writable } from 'node:stream'
import mqtt from 'mqtt'
import sharp from 'sharp'
import Value from 'typebox/value'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { ConfigSchema, type GatewayConfig } from '../../gateway/config/schema.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { isVehicle } from '../../gateway/vision/zones.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { flatJpeg } from './flat-jpeg.ts'
import { sample } from './support.ts'
import { LEFT_HALF, RIGHT_HALF } from '../support/zones.ts'
import { metricValue } from '../support/metrics.ts'

// Per-camera configuration in the registry, changed through GET/PUT /api/v1/cameras/:id/config
// (docs/api.md) on the gateway as `iocgw start` wires it: real registry, broker, API and models.
// A frame published over MQTT after a PUT is counted in the zones just saved, without a restart;
// gateway.yaml only seeds a camera the registry has nothing for.

const ADMIN = `iocgw_cam-config-admin-${Math.random().toString(36).slice(2)}`
const CAM = 'cam-cfg-01'
const dir = tempDir('iocgw-cam-config-')

function gatewayConfig(yamlZones: unknown[]): GatewayConfig {
  return Value.Default(ConfigSchema, {
    server: { dataDir: dir.path, logLevel: 'warn' },
    http: { host: '127.0.0.1', port: 0, authFailuresPerMinute: 1_000_000 },
    mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
    auth: { adminToken: ADMIN },
    vision: { workers: 1, cameras: { [CAM]: { zones: yamlZones } } },
  }) as GatewayConfig
}

async function start(yamlZones: unknown[]): Promise<{ gw: RunningGateway; base: string }> {
  const gw = await startGateway({
    config: gatewayConfig(yamlZones),
    notice: () => {},
    logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
  })
  return { gw, base: `http://127.0.0.1:${gw.ports.http}` }
}

let gw: RunningGateway
let base: string
let secret: string
let technician: string
let viewer: string

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
}

const counter = (name: string, labels: Record<string, string>) => metricValue(gw.metrics, name, labels)

async function publishFrame(jpeg: Buffer, ts: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, {
    username: CAM,
    password: secret,
    clientId: CAM,
    protocolVersion: 4,
    reconnectPeriod: 0,
  })
  await c.publishAsync(`devices/${CAM}/frames/${ts}`, jpeg, { qos: 1 })
  await c.endAsync()
}

interface Rec {
  ts: string
  objects: Array<{ class: string; score: number; box: number[] }>
  zones: Array<{ zone: string; counts: Record<string, number> }>
}

async function recordAt(ts: number): Promise<Rec> {
  let rec: Rec | undefined
  await waitFor(
    async () => {
      const page = await api('GET', `/cameras/${CAM}/detections?from=0&to=${ts + 1}&limit=100`, viewer)
      rec = (page.json.items as Rec[]).find((r) => r.ts === new Date(ts).toISOString())
      return rec !== undefined
    },
    60_000,
    100,
  )
  return rec!
}

/** Vehicles (score >= 0.5) whose bottom-centre lies left or right of the frame's middle (640 px wide). */
function bySide(rec: Rec, side: 'left' | 'right'): number {
  return rec.objects.filter((o) => isVehicle(o.class) && o.score >= 0.5 && (o.box[0]! + o.box[2]!) / 2 < 320 === (side === 'left')).length
}
const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0)

beforeAll(async () => {
  ;({ gw, base } = await start([{ id: 'yaml-left', kind: 'count', polygon: LEFT_HALF }]))
  const created = await api('POST', '/devices', ADMIN, { id: CAM, kind: 'camera', name: 'Cầu Trường Tiền' })
  expect(created.status).toBe(201)
  secret = created.json.credentials.password
  await api('POST', '/devices', ADMIN, { id: 'wl-cfg-01', kind: 'water_level', name: 'Kim Long' })
  technician = (await api('POST', '/tokens', ADMIN, { role: 'technician', name: 'tech' })).json.token
  viewer = (await api('POST', '/tokens', ADMIN, { role: 'viewer', name: 'view' })).json.token
}, 120_000)

afterAll(async () => {
  await gw?.close()
  dir.remove()
})

describe('camera configuration in the registry', () => {
  it('is seeded from gateway.yaml and readable by every role', async () => {
    const got = await api('GET', `/cameras/${CAM}/config`, viewer)
    expect(got.status).toBe(200)
    expect(got.json.config).toEqual({ zones: [{ id: 'yaml-left', kind: 'count', polygon: LEFT_HALF }] })
    expect(got.json.updated_at).toEqual(expect.any(String))
    expect((await api('GET', '/cameras/wl-cfg-01/config', viewer)).status).toBe(404)
  })

  it('applies a PUT zone to the next frame over MQTT, and a second PUT to the one after, without a restart', async () => {
    const put1 = await api('PUT', `/cameras/${CAM}/config`, technician, {
      zones: [{ id: 'right', kind: 'count', polygon: RIGHT_HALF }],
      tiling: { enabled: 'auto' },
    })
    expect(put1.status).toBe(200)
    expect(put1.json.config).toEqual({ zones: [{ id: 'right', kind: 'count', polygon: RIGHT_HALF }], tiling: { enabled: 'auto' } })

    const frame = sample('coco_000000001532.jpg')
    const t1 = Date.now() - 60_000
    await publishFrame(frame, t1)
    const r1 = await recordAt(t1)
    expect(r1.zones.map((z) => z.zone)).toEqual(['right'])
    expect(total(r1.zones[0]!.counts)).toBe(bySide(r1, 'right'))

    const put2 = await api('PUT', `/cameras/${CAM}/config`, technician, {
      zones: [{ id: 'left', kind: 'count', direction: 'về Lê Lợi', polygon: LEFT_HALF }],
      tiling: { enabled: false },
    })
    expect(put2.status).toBe(200)
    expect((await api('GET', `/cameras/${CAM}/config`, viewer)).json.config.zones[0].id).toBe('left')
    // The very same picture again: the new configuration resets the motion gate, so it is analysed.
    const t2 = t1 + 1000
    await publishFrame(frame, t2)
    const r2 = await recordAt(t2)
    expect(r2.zones.map((z) => z.zone)).toEqual(['left'])
    expect(total(r2.zones[0]!.counts)).toBe(bySide(r2, 'left'))
    // Both sides together are every vehicle in the frame (4 cars and a truck, expected.json).
    expect(total(r1.zones[0]!.counts) + total(r2.zones[0]!.counts)).toBe(5)
  }, 120_000)

  it('refuses a bad configuration with a 400 naming the field, and callers without the role', async () => {
    const put = (body: unknown, token = technician, cam = CAM) => api('PUT', `/cameras/${cam}/config`, token, body)
    const two = await put({
      zones: [
        {
          id: 'a',
          kind: 'count',
          polygon: [
            [0, 0],
            [1, 1],
          ],
        },
      ],
    })
    expect(two.status).toBe(400)
    expect(two.json.message).toMatch(/^body\/zones\/0\/polygon .*3/)
    const outside = await put({
      zones: [
        {
          id: 'a',
          kind: 'flood',
          polygon: [
            [0, 0],
            [1.5, 0],
            [1, 1],
          ],
        },
      ],
    })
    expect(outside.status).toBe(400)
    expect(outside.json.message).toContain('body/zones/0/polygon/1/0')
    expect(outside.json.message).toContain('normalised frame coordinates, 0..1')
    const dup = await put({
      zones: [
        { id: 'a', kind: 'count', polygon: LEFT_HALF },
        { id: 'a', kind: 'flood', polygon: RIGHT_HALF },
      ],
    })
    expect(dup.status).toBe(400)
    expect(dup.json.message).toContain('body/zones/1/id')
    const flat = await put({
      zones: [
        {
          id: 'a',
          kind: 'count',
          polygon: [
            [0, 0],
            [0.5, 0.5],
            [1, 1],
          ],
        },
      ],
    })
    expect(flat.json.message).toContain('has no area')
    const kind = await put({ zones: [{ id: 'a', kind: 'lane', polygon: LEFT_HALF }] })
    expect(kind.status).toBe(400)
    expect(kind.json.message).toContain('body/zones/0')
    const tiling = await put({ tiling: { enabled: 'sometimes' } })
    expect(tiling.status).toBe(400)
    expect(tiling.json.message).toContain('body/tiling/enabled')
    const dry = await put({ dryReference: '/nonexistent/dry.jpg' })
    expect(dry.json.message).toBe('body/dryReference no readable file at /nonexistent/dry.jpg on the gateway')
    expect((await put({ zones: [] }, viewer)).status).toBe(403)
    expect((await put({ zones: [] }, technician, 'wl-cfg-01')).status).toBe(404)
    // None of these changed what is stored.
    expect((await api('GET', `/cameras/${CAM}/config`, viewer)).json.config.zones[0].id).toBe('left')
  })

  it('refuses a 16383x16383 frame over MQTT from its header; the snapshot stays the last frame, drawn once', async () => {
    const snap1 = await fetch(`${base}/api/v1/cameras/${CAM}/snapshot`, { headers: { authorization: `Bearer ${viewer}` } })
    expect(snap1.status).toBe(200)
    const renders = await counter('vision_snapshot_renders_total', {})
    await publishFrame(flatJpeg(16383, 16383), Date.now())
    await waitFor(async () => (await counter('vision_frames_rejected_total', { reason: 'too_many_pixels' })) === 1, 30_000)
    const snap2 = await fetch(`${base}/api/v1/cameras/${CAM}/snapshot`, { headers: { authorization: `Bearer ${viewer}` } })
    const meta = await sharp(Buffer.from(await snap2.arrayBuffer())).metadata()
    expect([meta.width, meta.height]).toEqual([640, 480])
    expect(await counter('vision_snapshot_renders_total', {})).toBe(renders)
  })

  it('keeps the stored configuration over a restart with another gateway.yaml seed, and audits each change', async () => {
    await gw.close()
    ;({ gw, base } = await start([{ id: 'yaml-other', kind: 'count', polygon: RIGHT_HALF }]))
    const got = await api('GET', `/cameras/${CAM}/config`, viewer)
    expect(got.json.config.zones.map((z: { id: string }) => z.id)).toEqual(['left'])
    await gw.close()
    const reg = openRegistry(dir.path)
    try {
      const actions = (await reg.listAudit({ limit: 100 })).items
        .filter((a) => a.target === CAM && a.action.startsWith('camera.config'))
        .map((a) => `${a.action} ${a.actor_type}`)
      expect(actions).toEqual(['camera.config token', 'camera.config token', 'camera.config.seed system'])
    } finally {
      await reg.close()
    }
    ;({ gw, base } = await start([]))
  }, 120_000)
})
