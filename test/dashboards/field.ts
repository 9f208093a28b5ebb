import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { ConfigSchema } from '../../gateway/config/schema.ts'
import { simulate, unitRandom } from '../../edge/drivers/simulated.ts'
import { findSample, sample } from '../support/samples.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { LOWER_HALF } from '../support/zones.ts'

// Fills an InfluxDB through the real gateway: `iocgw start` with IOC_INFLUX_URL, devices
// registered through the API, a replayed simulated field (the edge agent's own simulated driver,
// its buffered history published as arrays the way the agent replays after an outage), a live edge
// agent process, a refused message, and camera frames from the sample photos.

export const ADMIN_TOKEN = 'dashboards-test-admin-token-0123456789'

export interface FieldDevice {
  id: string
  kind: 'water_level' | 'rain_gauge' | 'air_quality' | 'camera'
  station: string
  sim?: Record<string, unknown>
}

export const FIELD: FieldDevice[] = [
  { id: 'gauge-kim-long', kind: 'water_level', station: 'kim-long', sim: { sensor: 'water_level', seed: 7, base_m: 0.6, peak_m: 3.8 } },
  { id: 'gauge-phu-oc', kind: 'water_level', station: 'phu-oc', sim: { sensor: 'water_level', seed: 11, base_m: 1.0, peak_m: 4.8 } },
  {
    id: 'gauge-thuong-nhat',
    kind: 'water_level',
    station: 'thuong-nhat',
    sim: { sensor: 'water_level', seed: 13, base_m: 57.5, peak_m: 63.4 },
  },
  { id: 'rain-kim-long', kind: 'rain_gauge', station: 'kim-long', sim: { sensor: 'rain_gauge', seed: 17 } },
  { id: 'aq-hue-le-loi', kind: 'air_quality', station: 'hue-le-loi', sim: { sensor: 'air_quality', seed: 19, pm25_base: 45 } },
  { id: 'cam-cau-truong-tien', kind: 'camera', station: 'kim-long' },
  // The live edge agent's gauge, on a station without alarm levels (Truồi).
  { id: 'gauge-truoi', kind: 'water_level', station: 'truoi' },
]

/** Replayed history: this many hours back to now, one reading per step. */
export const HISTORY_H = 4
const STEP_MS = 2 * 60_000
/** Simulated hours per real hour: 4 hours of history are 24 hours of a flood. */
const TIME_SCALE = 6
/** Where in its flood each station is now: 20 h after the start, just past an 18 h peak. */
const NOW_PHASE_H = 20
const HOUR = 3_600_000

/**
 * The simulated driver is a pure function of (seed, time). This finds the driver time whose flood
 * phase is NOW_PHASE_H (same formula as edge/drivers/simulated.ts), so that the replayed history
 * ends with every river above its alarm levels and alerts open now.
 */
function anchorFor(cfg: { seed: number; time_scale: number; period_h: number }, now: number): number {
  const phase = (at: number) =>
    ((((at * cfg.time_scale) / HOUR + unitRandom(cfg.seed, 0) * cfg.period_h) % cfg.period_h) + cfg.period_h) % cfg.period_h
  const delta = (((NOW_PHASE_H - phase(now)) % cfg.period_h) + cfg.period_h) % cfg.period_h
  return now + (delta * HOUR) / cfg.time_scale
}

export interface RunningField {
  httpUrl: string
  mqttUrl: string
  gatewayLog: () => string
  stop(): Promise<void>
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(t)
}

function spawnIocgw(args: string[], env: Record<string, string>): { proc: ChildProcess; log: () => string } {
  const proc = spawn(process.execPath, ['gateway/cli/iocgw.js', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000)
  }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  return { proc, log: () => out }
}

async function publish(url: string, username: string, password: string, msgs: Array<[string, string | Buffer, boolean?]>): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    username,
    password,
    clientId: `${username}:replay`,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  })
  try {
    for (const [topic, payload, retain] of msgs) await client.publishAsync(topic, payload, { qos: 1, retain: retain ?? false })
  } finally {
    await client.endAsync()
  }
}

/** Street and flood photos of the samples, sent as the field camera's frames. */
export const SAMPLE_PHOTOS = ['coco_000000001532.jpg', 'culane_lane00000.jpg', 'coco_000000007816.jpg', 'flood_lagos_2019.jpg']

/** Zones of the field's camera: two counting zones and a flood zone (vision config shape). */
export const CAMERA_ZONES = [
  {
    id: 'north',
    kind: 'count',
    polygon: [
      [0, 0.3],
      [1, 0.3],
      [1, 0.65],
      [0, 0.65],
    ],
  },
  {
    id: 'south',
    kind: 'count',
    polygon: [
      [0, 0.65],
      [1, 0.65],
      [1, 1],
      [0, 1],
    ],
  },
  {
    id: 'street',
    kind: 'flood',
    polygon: LOWER_HALF,
  },
]

/**
 * The repository's config/gateway.yaml, plus the field camera's zones once the gateway's
 * configuration has a vision section (so that its frames give counts per zone and a water ratio).
 */
function gatewayConfigFile(dir: string): string | undefined {
  if (!('vision' in (ConfigSchema.properties as Record<string, unknown>))) return undefined
  const base = (parseYaml(readFileSync('config/gateway.yaml', 'utf8')) ?? {}) as Record<string, any>
  base.vision = {
    ...(base.vision ?? {}),
    flood: { ...(base.vision?.flood ?? {}), everyMs: 0 },
    cameras: { ...(base.vision?.cameras ?? {}), 'cam-cau-truong-tien': { zones: CAMERA_ZONES } },
  }
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, toYaml(base))
  return file
}

export async function startField(influxUrl: string): Promise<RunningField> {
  const dir = tempDir('iocgw-dash-field-')
  const [http, mqttPort, ws] = [await freePort(), await freePort(), await freePort()]
  const configFile = gatewayConfigFile(dir.path)
  const gw = spawnIocgw(['start'], {
    ...(configFile ? { IOC_CONFIG: configFile } : {}),
    IOC_INFLUX_URL: influxUrl,
    IOC_DATA_DIR: join(dir.path, 'data'),
    IOC_HTTP_PORT: String(http),
    IOC_MQTT_PORT: String(mqttPort),
    IOC_MQTT_WS_PORT: String(ws),
    IOC_ADMIN_TOKEN: ADMIN_TOKEN,
    IOC_LOG_LEVEL: 'warn',
  })
  const httpUrl = `http://127.0.0.1:${http}`
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`
  const agents: ChildProcess[] = []
  const stop = async () => {
    for (const a of agents) await stopChild(a)
    await stopChild(gw.proc)
    dir.remove()
  }
  try {
    await waitFor(
      async () => {
        if (gw.proc.exitCode !== null) throw new Error(`gateway exited: ${gw.log()}`)
        return (await fetch(`${httpUrl}/healthz`)).ok
      },
      60_000,
      200,
    )

    const secrets = new Map<string, string>()
    for (const d of FIELD) {
      const res = await fetch(`${httpUrl}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: d.id, kind: d.kind, name: d.id, station: d.station, district: 'Thành phố Huế' }),
      })
      if (res.status !== 201) throw new Error(`registering ${d.id}: HTTP ${res.status} ${await res.text()}`)
      const body = (await res.json()) as { credentials: { password: string } }
      secrets.set(d.id, body.credentials.password)
    }

    // History: what each agent would replay after an outage, in 30-reading arrays.
    const now = Date.now()
    const start = now - HISTORY_H * 3_600_000
    for (const d of FIELD) {
      if (!d.sim) continue
      const cfg = {
        type: 'simulated',
        time_scale: TIME_SCALE,
        rise_h: 18,
        period_h: 120,
        peak_rain_mm_h: 40,
        pm25_base: 30,
        base_m: 0.6,
        peak_m: 3.8,
        noise: 0.05,
        ...d.sim,
      } as Parameters<typeof simulate>[0]
      const anchor = anchorFor(cfg, now)
      const readings = []
      let seq = 1
      for (let t = start; t <= now - 60_000; t += STEP_MS)
        readings.push({ ts: t, seq: seq++, values: simulate(cfg, anchor + (t - now), STEP_MS / 1000) })
      const msgs: Array<[string, string, boolean?]> = []
      for (let i = 0; i < readings.length; i += 30) msgs.push([`devices/${d.id}/telemetry`, JSON.stringify(readings.slice(i, i + 30))])
      msgs.push([
        `devices/${d.id}/status`,
        JSON.stringify({ online: true, ts: new Date().toISOString(), fw: 'iocgw-edge/0.1.0', uptime: 3600 }),
        true,
      ])
      await publish(mqttUrl, d.id, secrets.get(d.id)!, msgs)
    }

    // A refused message (a metric value that is not a number) so the rejects series has a reason.
    await publish(mqttUrl, 'rain-kim-long', secrets.get('rain-kim-long')!, [
      ['devices/rain-kim-long/telemetry', JSON.stringify({ seq: 99_999, values: { rainfall: 'heavy' } })],
    ])

    // Camera frames: the real sample photos, as a camera publishes them.
    const jpegs = SAMPLE_PHOTOS.filter((f) => findSample(f) !== null)
    if (jpegs.length) {
      await publish(mqttUrl, 'cam-cau-truong-tien', secrets.get('cam-cau-truong-tien')!, [
        ...jpegs.map((f, i): [string, Buffer] => [`devices/cam-cau-truong-tien/frames/${now - (jpegs.length - i) * 20_000}`, sample(f)]),
        ['devices/cam-cau-truong-tien/status', JSON.stringify({ online: true, ts: new Date().toISOString() }), true],
      ])
    }

    // A live edge agent for one gauge: its retained status (and its offline status when stopped).
    const edgeConf = join(dir.path, 'edge.yaml')
    writeFileSync(
      edgeConf,
      toYaml({
        device: { id: 'gauge-truoi', password_env: 'IOC_DEVICE_SECRET', fw: 'iocgw-edge/0.1.0' },
        mqtt: { url: mqttUrl, keepalive_s: 30, ack_timeout_ms: 5000, reconnect_ms: 500 },
        interval_s: 1,
        status_interval_s: 1,
        queue: { path: join(dir.path, 'edge-queue.db'), max_readings: 10_000, max_age_days: 7, batch_size: 100 },
        driver: { type: 'simulated', sensor: 'water_level', seed: 23, time_scale: TIME_SCALE, base_m: 0.4, peak_m: 2.5 },
      }),
    )
    const edge = spawnIocgw(['edge', '--config', edgeConf, '--log-level', 'warn'], { IOC_DEVICE_SECRET: secrets.get('gauge-truoi')! })
    agents.push(edge.proc)
    return { httpUrl, mqttUrl, gatewayLog: () => `${gw.log()}\n--- edge ---\n${edge.log()}`, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
