import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { Aedes } from 'aedes'
import mqtt, { type MqttClient } from 'mqtt'
import { startCameraAgent, type CameraAgent } from '../../edge/camera/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { freePort, waitFor } from '../support/services.ts'

export const PYTHON = '/usr/bin/python3'
const RTSP_SERVER = fileURLToPath(new URL('./rtsp-server.py', import.meta.url))

/** GStreamer's RTSP server (Debian) serving an H.264 test pattern; resolves once it listens. */
/** rtsp-server.py on `port`; `output()` is what it printed (for a test's diagnostics). */
export async function startRtspServer(port: number, size = '640x480'): Promise<ChildProcess & { output(): string }> {
  const child = spawn(PYTHON, [RTSP_SERVER, String(port), size], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()))
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`rtsp-server.py exited: ${out}`)
    return out.includes('ready')
  }, 15_000)
  return Object.assign(child, { output: () => out })
}

export async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const done = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill(signal)
  await done
}

/** A plain aedes broker on a free port (the camera agent's peer; auth is the broker's own tests' job). */
export async function startBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker()
  const server: Server = createServer(aedes.handle)
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()))
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((r) => aedes.close(() => r()))
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export interface Seen {
  frames: Array<{ topic: string; ts: number; at: number; jpeg: Buffer }>
  statuses: Array<{ online: boolean; error?: string; at: number }>
  client: MqttClient
}

export async function watch(url: string, id: string): Promise<Seen> {
  const client = await mqtt.connectAsync(url, { clientId: `watch-${id}`, protocolVersion: 4 })
  const seen: Seen = { frames: [], statuses: [], client }
  client.on('message', (topic, payload) => {
    if (topic.startsWith(`devices/${id}/frames/`))
      seen.frames.push({ topic, ts: Number(topic.split('/').pop()), at: Date.now(), jpeg: payload })
    else if (topic === `devices/${id}/status`)
      seen.statuses.push({ ...(JSON.parse(payload.toString()) as { online: boolean }), at: Date.now() })
  })
  await client.subscribeAsync(`devices/${id}/#`, { qos: 1 })
  return seen
}

/**
 * The edge camera agent as device `deviceId` on `mqttUrl`, taking a snapshot from the ONVIF camera
 * at `xaddr` (user admin) every half second, scaled to `max_width` at `jpeg_quality`, published
 * at QoS 1, with reconnect backoffs of 0.2 to 1 s.
 */
export function startSnapshotAgent(o: {
  deviceId: string
  password: string
  mqttUrl: string
  xaddr: string
  cameraPassword: string
  max_width: number
  jpeg_quality: number
}): Promise<CameraAgent> {
  return startCameraAgent({
    deviceId: o.deviceId,
    password: o.password,
    mqttUrl: o.mqttUrl,
    logger: quietLogger().logger,
    driver: {
      type: 'camera',
      onvif: { xaddr: o.xaddr, use: 'snapshot' },
      username: 'admin',
      password: o.cameraPassword,
      interval_s: 0.5,
      max_width: o.max_width,
      jpeg_quality: o.jpeg_quality,
      qos: 1,
      backoff_initial_ms: 200,
      backoff_max_ms: 1000,
    },
  })
}

export function quietLogger() {
  const lines: string[] = []
  return { logger: createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) })), lines }
}
