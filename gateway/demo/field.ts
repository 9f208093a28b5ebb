import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { sampleDirs } from '../../models/samples.ts'
import { deviceTopic } from '../protocol/topics.ts'
import { mulberry32 } from '../util/mulberry32.ts'
import { DEMO_MIN_DURATION_S, KIM_LONG, PHU_OC, rainIntensity, waterLevel, type Hydrograph } from './scenario.ts'

// A simulated field for `iocgw demo`: devices registered through the real API, publishing over
// the real broker with their own credentials, readings stamped with the wall clock. The flood is
// scripted (scenario.ts); the noise is deterministic from the seed (mulberry32).
interface DemoDevice {
  id: string
  kind: string
  name: string
  station?: string
  river?: Hydrograph
}
const DEVICES: DemoDevice[] = [
  { id: 'demo-wl-kim-long', kind: 'water_level', name: 'Trạm thủy văn Kim Long (sông Hương)', station: 'kim-long', river: KIM_LONG },
  { id: 'demo-wl-phu-oc', kind: 'water_level', name: 'Trạm thủy văn Phú Ốc (sông Bồ)', station: 'phu-oc', river: PHU_OC },
  { id: 'demo-rain-kim-long', kind: 'rain_gauge', name: 'Đo mưa Kim Long', station: 'kim-long' },
  { id: 'demo-rain-phu-oc', kind: 'rain_gauge', name: 'Đo mưa Phú Ốc', station: 'phu-oc' },
  { id: 'demo-aq-hue-center', kind: 'air_quality', name: 'Quan trắc không khí trung tâm Huế' },
  { id: 'demo-aq-phu-bai', kind: 'air_quality', name: 'Quan trắc không khí Phú Bài' },
  { id: 'demo-cam-1', kind: 'camera', name: 'Camera ngã tư Lê Lợi' },
  { id: 'demo-cam-2', kind: 'camera', name: 'Camera cầu Tràng Tiền' },
]

/** Real milliseconds between messages, by device kind. */
const PERIOD_MS: Record<string, number> = { water_level: 2000, rain_gauge: 10_000, air_quality: 10_000, camera: 3000 }

/** The sample photos the cameras replay: `samples/` beside the models (models/samples.ts). */
export function samplesDir(modelsDir?: string): { dir: string | undefined; searched: string[] } {
  const searched = sampleDirs(modelsDir)
  return { dir: searched.find((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.jpg'))), searched }
}

export interface FieldOptions {
  apiUrl: string
  token: string
  mqttUrl: string
  /** Scenario seconds per real second (1: the first rise takes 30 s). */
  speed: number
  seed: number
  modelsDir?: string | undefined
  say: (line: string) => void
}

export interface Field {
  /** Wall-clock time (epoch ms) the scenario started. */
  startedAt: number
  /** How many sample photos the cameras replay (0: cameras send nothing). */
  frames: number
  close(): Promise<void>
}

async function api(o: FieldOptions, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${o.apiUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${o.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined }
}

/**
 * The rules in force with the water-level and rise-rate minimum durations cut to
 * DEMO_MIN_DURATION_S, through PUT /api/v1/rules as an operator would: with readings in real time,
 * the production 5-10 minutes would keep the scripted flood from alerting in its first minute.
 */
async function shortenDurations(o: FieldOptions): Promise<void> {
  const got = await api(o, 'GET', '/rules')
  if (got.status !== 200) throw new Error(`demo: GET /api/v1/rules answered ${got.status}`)
  const doc = got.json as { version: 1; rules: Array<Record<string, unknown>> }
  const rules = doc.rules.map((r) =>
    r.type === 'water_alarm' || r.type === 'rise_rate'
      ? { ...r, min_duration_s: Math.min(Number(r.min_duration_s ?? DEMO_MIN_DURATION_S), DEMO_MIN_DURATION_S) }
      : r,
  )
  const put = await api(o, 'PUT', '/rules', { ...doc, rules })
  if (put.status !== 200) throw new Error(`demo: PUT /api/v1/rules answered ${put.status}: ${JSON.stringify(put.json)}`)
}

export async function startField(o: FieldOptions): Promise<Field> {
  const rand = mulberry32(o.seed)
  const clients: mqtt.MqttClient[] = []
  const timers: NodeJS.Timeout[] = []
  const samples = samplesDir(o.modelsDir)
  const frames = samples.dir
    ? readdirSync(samples.dir)
        .filter((f) => f.endsWith('.jpg'))
        .sort()
        .map((f) => readFileSync(join(samples.dir!, f)))
    : []
  if (frames.length === 0) o.say(`demo: no sample photos found (looked in ${samples.searched.join(', ')}); the cameras send no frames`)
  else o.say(`demo: cameras replay ${frames.length} sample photos from ${samples.dir}`)
  await shortenDurations(o)

  const connected: Array<{ dev: DemoDevice; client: mqtt.MqttClient }> = []
  for (const dev of DEVICES) {
    const res = await api(o, 'POST', '/devices', {
      id: dev.id,
      kind: dev.kind,
      name: dev.name,
      ...(dev.station ? { station: dev.station } : {}),
    })
    if (res.status !== 201) throw new Error(`demo: registering ${dev.id} answered ${res.status}: ${JSON.stringify(res.json)}`)
    const { credentials } = res.json as { credentials: { username: string; password: string } }
    const client = await mqtt.connectAsync(o.mqttUrl, { username: credentials.username, password: credentials.password, clientId: dev.id })
    clients.push(client)
    connected.push({ dev, client })
  }

  // The scenario starts once every device is connected, so its first minute is all on show.
  const startedAt = Date.now()
  const scenarioS = () => ((Date.now() - startedAt) / 1000) * o.speed
  for (const { dev, client } of connected) {
    let seq = 0
    const periodMs = PERIOD_MS[dev.kind] ?? 10_000
    const tick = () => {
      if (dev.kind === 'camera') {
        if (!frames.length) return
        const img = frames[(seq++ + (dev.id.endsWith('2') ? 3 : 0)) % frames.length]!
        void client.publishAsync(deviceTopic.frames(dev.id, Date.now()), img, { qos: 1 }).catch(() => {})
        return
      }
      const s = scenarioS()
      const values: Record<string, number> = { battery: +(12.4 + rand() * 0.4).toFixed(2) }
      if (dev.river) values.water_level = +(waterLevel(dev.river, s) + (rand() - 0.5) * 0.02).toFixed(3)
      if (dev.kind === 'rain_gauge') {
        const intervalS = periodMs / 1000
        values.rainfall = +Math.max(0, (rainIntensity(s) * (0.8 + rand() * 0.4) * intervalS) / 3600).toFixed(2)
        values.interval_s = intervalS
      }
      if (dev.kind === 'air_quality') {
        values.pm25 = +(25 + rand() * 40).toFixed(1)
        values.pm10 = +(40 + rand() * 60).toFixed(1)
        values.no2 = +(20 + rand() * 30).toFixed(1)
      }
      void client
        .publishAsync(deviceTopic.telemetry(dev.id), JSON.stringify({ ts: Date.now(), seq: seq++, values }), { qos: 1 })
        .catch(() => {})
    }
    tick()
    timers.push(setInterval(tick, periodMs))
  }
  return {
    startedAt,
    frames: frames.length,
    async close() {
      for (const t of timers) clearInterval(t)
      await Promise.all(clients.map((c) => c.endAsync().catch(() => {})))
    },
  }
}

/** The demo's data directory: the one given, else a new temporary one the demo removes when it ends. */
export function demoDataDir(given?: string): { path: string; temporary: boolean } {
  return given ? { path: given, temporary: false } : { path: mkdtempSync(join(tmpdir(), 'iocgw-demo-')), temporary: true }
}
