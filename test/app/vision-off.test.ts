import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, requestAs } from '../support/gateway-api.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'

// A clone without model weights (they are never in the repository): the real gateway process with
// IOC_MODELS_DIR on an empty folder and the fallbacks (models/, ../shared/models) switched off.
// It must be ready, with vision reported off and the command that fixes it, everywhere it is seen.

const ADMIN = 'vision-off-admin-token-0123456789'

describe('the gateway without model files: vision off, everything else ready', () => {
  const dir = tempDir()
  const empty = tempDir('iocgw-no-models-')
  let gw: GatewayProcess
  const api = (method: string, path: string, body?: unknown) => requestAs(gw.apiUrl, ADMIN, method, path, body)

  beforeAll(async () => {
    gw = await spawnGateway({ dataDir: dir.path, env: { IOC_ADMIN_TOKEN: ADMIN, IOC_MODELS_DIR: empty.path, IOC_MODELS_FALLBACKS: '0' } })
  })
  afterAll(async () => {
    await stopGateway(gw)
    dir.remove()
    empty.remove()
  })

  it('is ready at once, /readyz says vision is off and how to turn it on; the log says so once', async () => {
    const r = await fetch(`${gw.apiUrl}/readyz`)
    const body = (await r.json()) as { status: string; checks: Record<string, { ok: boolean; state?: string; detail?: string }> }
    expect(r.status).toBe(200)
    expect(body.status).toBe('ready')
    expect(body.checks.model).toEqual({ ok: true, state: 'off', detail: expect.stringContaining('run `iocgw models fetch`') })
    expect(body.checks.model!.detail).toContain(`vision off: no usable yolox_nano.onnx, deeplabv3_mnv2_ade20k_uint8.onnx in ${empty.path};`)
    const warnings = gw
      .output()
      .split('\n')
      .filter((l) => l.includes('vision off'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('iocgw models fetch')
    // And on the console, in the notice that says where the gateway listens.
    expect(gw.output()).toContain('  vision     OFF: model files missing; run `iocgw models fetch`, then restart')
  })

  it('acknowledges frames, counts each as not analysed (vision_off), and says which camera sends them', async () => {
    const made = await api('POST', '/api/v1/devices', { id: 'cam-off-01', kind: 'camera', name: 'Cầu Trường Tiền', station: 'kim-long' })
    expect(made.status).toBe(201)
    const creds = made.body.credentials as { username: string; password: string }
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .jpeg()
      .toBuffer()
    const cam = await connectDevice(gw.mqttUrl, creds)
    try {
      // QoS 1: the PUBACK comes back (a camera is never held up), twice.
      await cam.publishAsync('devices/cam-off-01/frames', jpeg, { qos: 1 })
      await cam.publishAsync('devices/cam-off-01/frames', jpeg, { qos: 1 })
    } finally {
      await cam.endAsync()
    }
    const metrics = await waitFor(
      async () => {
        const text = (await api('GET', '/metrics')).text
        return /iocgw_vision_frames_rejected_total\{reason="vision_off"\} 2/.test(text) ? text : undefined
      },
      20_000,
      100,
    )
    expect(metrics).toMatch(/iocgw_vision_frames_total\{outcome="rejected"\} 2/)
    await waitFor(() => gw.output().includes('"device":"cam-off-01"'), 10_000)
    expect(
      gw
        .output()
        .split('\n')
        .filter((l) => l.includes('"device":"cam-off-01"')),
    ).toHaveLength(1)
  })

  it('answers the snapshot and detections routes with 503, saying vision is off and what to run', async () => {
    for (const path of ['/api/v1/cameras/cam-off-01/snapshot', '/api/v1/cameras/cam-off-01/detections']) {
      const res = await api('GET', path)
      expect(res.status, path).toBe(503)
      expect(res.body, path).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringMatching(/^vision off: .*run `iocgw models fetch`/),
      })
    }
    // An unknown camera is still an unknown camera.
    expect((await api('GET', '/api/v1/cameras/cam-nowhere/snapshot')).status).toBe(404)
  })
})
