import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, requestAs } from '../support/gateway-api.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { sample } from './support.ts'

// The vision workers start with the first camera frame and stop after vision.idleStopS without
// one (docs/vision.md "Workers"): the real gateway process, the real models, a real sample photo.

const ADMIN = 'vision-idle-admin-token-0123456789'
const CAM = 'cam-idle-01'
// coco_000000001584.jpg: three buses (samples/expected.json; test/vision/mqtt.test.ts).
const PHOTO = 'coco_000000001584.jpg'

describe('vision workers start with the first frame and stop when idle', () => {
  const dir = tempDir()
  let gw: GatewayProcess
  const api = (method: string, path: string, body?: unknown) => requestAs(gw.apiUrl, ADMIN, method, path, body)
  const workersGauge = async () => {
    const m = /^iocgw_vision_workers (\d+)$/m.exec((await api('GET', '/metrics')).text)
    return m ? Number(m[1]) : undefined
  }
  /** Threads of the gateway process (Node's own plus one per worker and its onnxruntime threads). */
  const threads = () => readdirSync(`/proc/${gw.child.pid}/task`).length
  const onnxMapped = () => readFileSync(`/proc/${gw.child.pid}/maps`, 'utf8').includes('libonnxruntime')
  const model = async () =>
    ((await (await fetch(`${gw.apiUrl}/readyz`)).json()) as { checks: Record<string, { ok: boolean; state?: string }> }).checks.model
  const busesAt = async (ts: number) => {
    const from = new Date(ts - 1).toISOString()
    const to = new Date(ts + 1).toISOString()
    const r = await api('GET', `/api/v1/cameras/${CAM}/detections?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
    const items = (r.body.items ?? []) as Array<{ counts: Record<string, number> }>
    return items[0]?.counts.bus
  }
  let creds: { username: string; password: string }
  const sendFrame = async (ts: number) => {
    const cam = await connectDevice(gw.mqttUrl, creds)
    try {
      // QoS 1: the PUBACK comes at once, while the workers are still loading their models.
      await cam.publishAsync(`devices/${CAM}/frames/${ts}`, sample(PHOTO), { qos: 1 })
    } finally {
      await cam.endAsync()
    }
  }

  beforeAll(async () => {
    const config = join(dir.path, 'gateway.yaml')
    writeFileSync(config, 'vision:\n  idleStopS: 3\n  motion: { enabled: false }\n')
    gw = await spawnGateway({ dataDir: join(dir.path, 'data'), env: { IOC_ADMIN_TOKEN: ADMIN }, args: ['--config', config] })
  })
  afterAll(async () => {
    if (gw) await stopGateway(gw)
    dir.remove()
  })

  it('holds no worker and no onnxruntime session without a camera frame, and is ready', async () => {
    const m = await model()
    expect(m).toEqual({ ok: true, state: 'idle' })
    expect(await workersGauge()).toBe(0)
    // Not even the onnxruntime library is loaded into the process.
    expect(onnxMapped()).toBe(false)
  })

  let idleThreads = 0
  let running = 0
  it('starts them for the first frame of a registered camera, which waits for them and is analysed', async () => {
    const made = await api('POST', '/api/v1/devices', { id: CAM, kind: 'camera', name: 'Cầu Trường Tiền', station: 'kim-long' })
    expect(made.status).toBe(201)
    creds = made.body.credentials as typeof creds
    // Registering alone starts nothing.
    expect(await workersGauge()).toBe(0)
    idleThreads = threads()
    const ts = Date.now()
    await sendFrame(ts)
    expect(await waitFor(() => busesAt(ts), 60_000, 200)).toBe(3)
    expect(await workersGauge()).toBe(2)
    running = threads()
    expect(running).toBeGreaterThanOrEqual(idleThreads + 2)
    expect(onnxMapped()).toBe(true)
    expect(await model()).toEqual({ ok: true, state: 'running' })
  })

  it('stops them after idleStopS without a frame; the next frame starts them again and is analysed the same', async () => {
    await waitFor(async () => (await workersGauge()) === 0, 30_000, 200)
    expect(await model()).toEqual({ ok: true, state: 'idle' })
    // The two worker threads are gone (libvips keeps its process-wide thread pool).
    await waitFor(() => threads() <= running - 2, 10_000, 100)
    const ts = Date.now()
    await sendFrame(ts)
    expect(await waitFor(() => busesAt(ts), 60_000, 200)).toBe(3)
    expect(await workersGauge()).toBe(2)
    const frames = (await api('GET', '/metrics')).text
    expect(frames).toMatch(/iocgw_vision_frames_total\{outcome="analysed"\} 2/)
    expect(frames).not.toMatch(/iocgw_vision_frames_total\{outcome="failed"\}/)
  })
})
