import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, ROOT, spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { samplePath } from '../support/samples.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ADMIN = 'edge-camera-admin-token-012345'
const SAMPLE = samplePath('coco_000000001532.jpg')

function runEdge(configFile: string): { exited: Promise<number | null>; output: () => string; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [BIN, 'edge', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, IOC_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  return { exited: new Promise((r) => child.once('exit', (c) => r(c))), output: () => out, kill: (s) => child.kill(s) }
}

describe('iocgw edge with driver.type camera', () => {
  const dir = tempDir()
  let gw: GatewayProcess
  let camera: Server
  let cameraUrl = ''

  beforeAll(async () => {
    gw = await spawnGateway({ dataDir: join(dir.path, 'gw'), env: { IOC_ADMIN_TOKEN: ADMIN } })
    const jpeg = readFileSync(SAMPLE)
    // A camera's snapshot URI: one real JPEG per request.
    camera = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg))
    await new Promise<void>((r) => camera.listen(0, '127.0.0.1', r))
    cameraUrl = `http://127.0.0.1:${(camera.address() as { port: number }).port}/ISAPI/Streaming/channels/101/picture`
  })
  afterAll(async () => {
    await stopGateway(gw)
    await new Promise<void>((r) => camera.close(() => r()))
    dir.remove()
  })

  it('a wrong key in the camera driver section stops with one line naming it', async () => {
    const file = join(dir.path, 'bad.yaml')
    writeFileSync(
      file,
      `device: { id: cam-bad-01, password: x }\nmqtt: { url: "${gw.mqttUrl}" }\ndriver: { type: camera, snapshot_url: "${cameraUrl}", fps: 3 }\n`,
    )
    const edge = runEdge(file)
    expect(await edge.exited).toBe(2)
    expect(edge.output().trim()).toMatch(/^iocgw edge: [^\n]*driver\.fps is not a known key$/)
  })

  it('publishes snapshots that the gateway analyses and counts', async () => {
    const res = await fetch(`${gw.apiUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'cam-edge-01', kind: 'camera', name: 'Cầu Trường Tiền' }),
    })
    const { credentials } = (await res.json()) as { credentials: { password: string } }
    const file = join(dir.path, 'cam.yaml')
    writeFileSync(
      file,
      [
        `device: { id: cam-edge-01, password: "${credentials.password}" }`,
        `mqtt: { url: "${gw.mqttUrl}" }`,
        `queue: { path: ${join(dir.path, 'queue.db')} }`,
        `driver: { type: camera, snapshot_url: "${cameraUrl}", interval_s: 0.5, qos: 1 }`,
        '',
      ].join('\n'),
    )
    const edge = runEdge(file)
    try {
      const found = await waitFor(
        async () => {
          const r = await fetch(`${gw.apiUrl}/api/v1/cameras/cam-edge-01/detections`, { headers: { authorization: `Bearer ${ADMIN}` } })
          const body = (await r.json()) as { items: Array<{ counts: Record<string, number> }> }
          return body.items.length > 0 ? body.items : undefined
        },
        60_000,
        250,
      )
      // The sample's reference counts (samples/expected.json): car 4-5, truck 1.
      expect(found[0]!.counts.car).toBeGreaterThanOrEqual(4)
      expect(found[0]!.counts.truck).toBe(1)
    } finally {
      edge.kill('SIGTERM')
      expect(await edge.exited).toBe(0)
    }
  })
})
