import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../../gateway/log/logger.ts'
import { deviceTopic } from '../../gateway/protocol/topics.ts'
import { RtspSource, SnapshotSource, type CaptureOptions, type FrameSource } from './capture.ts'
import { checkCameraSource, type CameraDriverConfig } from './config.ts'
import { connectOnvif, redactUri, withCredentials } from './onvif.ts'
import { createRequire } from 'node:module'

// The camera agent: captures frames and publishes each as raw JPEG on
// devices/{id}/frames/{capture epoch ms} (docs/mqtt.md). The device is online while frames flow:
// when the camera drops, the retained status says offline (with the reason), and online again
// once capture resumes; the MQTT will covers the agent itself vanishing.

export interface CameraAgentOptions {
  deviceId: string
  /** Device secret for the gateway. */
  password: string
  mqttUrl: string
  caFile?: string | undefined
  fw?: string | undefined
  driver: CameraDriverConfig
  logger: Logger
}

export interface CameraAgent {
  stats(): { framesSent: number; framesDropped: number; captureErrors: number; cameraOnline: boolean; mqttConnected: boolean }
  stop(): Promise<void>
}

const require = createRequire(import.meta.url)

/** HTTP GET with Digest authentication (node-onvif's client) for a plain snapshot URL. */
function httpDigestGet(url: string, username?: string, password?: string): Promise<Buffer> {
  const auth = require('node-onvif/lib/modules/http-auth.js') as {
    request(o: Record<string, unknown>, cb: (res: import('node:http').IncomingMessage) => void): import('node:http').ClientRequest
  }
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = auth.request(
      {
        protocol: u.protocol,
        hostname: u.hostname,
        port: u.port || (u.protocol === 'https:' ? 443 : 80),
        path: u.pathname + u.search,
        method: 'GET',
        ...(username ? { auth: `${username}:${password ?? ''}` } : {}),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))))
        res.on('error', reject)
      },
    )
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

async function makeSource(d: CameraDriverConfig, password: string | undefined, o: CaptureOptions, log: Logger): Promise<FrameSource> {
  if (d.rtsp_url) return new RtspSource(withCredentials(d.rtsp_url, d.username, password), o, d.ffmpeg_path)
  if (d.snapshot_url) {
    const url = d.snapshot_url
    return new SnapshotSource(() => httpDigestGet(url, d.username, password), o)
  }
  const on = d.onvif!
  const cam = await connectOnvif({ xaddr: on.xaddr, username: d.username, password })
  log.info(
    {
      manufacturer: cam.description.manufacturer,
      model: cam.description.model,
      firmware: cam.description.firmware,
      profiles: cam.description.profiles.map((p) => p.token),
    },
    'camera: ONVIF device found',
  )
  if (on.use === 'snapshot') {
    if (!cam.snapshotUri(on.profile)) throw new Error(`ONVIF ${on.xaddr}: the profile has no snapshot URI; use rtsp`)
    return new SnapshotSource(() => cam.snapshot(on.profile), o)
  }
  const uri = cam.rtspUri(on.profile)
  if (!uri) throw new Error(`ONVIF ${on.xaddr}: the profile has no RTSP stream URI`)
  log.info({ uri: redactUri(uri) }, 'camera: capturing from the ONVIF stream URI')
  return new RtspSource(withCredentials(uri, d.username, password), o, d.ffmpeg_path)
}

export async function startCameraAgent(a: CameraAgentOptions): Promise<CameraAgent> {
  const d = a.driver
  const problem = checkCameraSource(d)
  if (problem) throw new Error(problem)
  const log = a.logger.child({ component: 'camera', device: a.deviceId })
  const camPassword = d.password_env ? process.env[d.password_env] : d.password
  const id = a.deviceId
  const started = Date.now()
  let framesSent = 0
  let framesDropped = 0
  let captureErrors = 0
  let lastError: string | null = null
  let stopped = false

  const options: CaptureOptions = {
    intervalS: d.interval_s,
    maxWidth: d.max_width,
    quality: d.jpeg_quality,
    backoff: { initialMs: d.backoff_initial_ms, maxMs: d.backoff_max_ms },
    stallMs: d.stall_timeout_s !== undefined ? d.stall_timeout_s * 1000 : undefined,
  }
  const source = await makeSource(d, camPassword, options, log)

  const status = (online: boolean) =>
    JSON.stringify({
      online,
      ts: new Date().toISOString(),
      fw: a.fw ?? 'iocgw-camera/0.1.0',
      uptime: Math.round((Date.now() - started) / 1000),
      interval_s: d.interval_s,
      frames_sent: framesSent,
      frames_dropped: framesDropped,
      capture_errors: captureErrors,
      ...(online || !lastError ? {} : { error: lastError }),
    })

  const mqttOpts: IClientOptions = {
    clientId: id,
    username: id,
    password: a.password,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    // A frame is worth sending only now: never queue QoS 0 frames while the link is down.
    queueQoSZero: false,
    // MQTT 3.1.1 §3.1.2.5: the broker marks the camera offline if the agent vanishes.
    will: {
      topic: deviceTopic.status(id),
      payload: Buffer.from(JSON.stringify({ online: false, fw: a.fw ?? 'iocgw-camera/0.1.0' })),
      qos: 1,
      retain: true,
    },
    ...(a.caFile ? { ca: readFileSync(a.caFile) } : {}),
  }
  const client: MqttClient = mqtt.connect(a.mqttUrl, mqttOpts)
  const publishStatus = () => {
    if (client.connected) client.publish(deviceTopic.status(id), status(source.online), { qos: 1, retain: true })
  }
  client.on('connect', publishStatus)
  client.on('error', (err) => log.warn({ err }, 'camera: MQTT error'))

  source.on('frame', (jpeg, ts) => {
    if (!client.connected) {
      framesDropped++
      return
    }
    client.publish(deviceTopic.frames(id, ts), jpeg, { qos: d.qos }, (err) => {
      if (err) framesDropped++
      else framesSent++
    })
  })
  source.on('up', () => {
    log.info('camera: capturing')
    publishStatus()
  })
  source.on('down', (reason) => {
    captureErrors++
    lastError = reason
    log.warn({ reason }, 'camera: not capturing; retrying with backoff')
    publishStatus()
  })
  source.start()
  const statusTimer = setInterval(publishStatus, 60_000)
  statusTimer.unref()

  return {
    stats: () => ({ framesSent, framesDropped, captureErrors, cameraOnline: source.online, mqttConnected: client.connected }),
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(statusTimer)
      await source.stop()
      if (client.connected) {
        await new Promise<void>((r) => client.publish(deviceTopic.status(id), status(false), { qos: 1, retain: true }, () => r()))
      }
      await client.endAsync()
    },
  }
}
