import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import mqtt from 'mqtt'
import { findSample } from '../../models/samples.ts'

// A simulated field for `iocgw demo`: devices registered through the real API, publishing over
// the real broker with their own credentials. Deterministic from the seed (mulberry32).
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface DemoDevice { id: string; kind: string; name: string; station?: string; peak?: number; base?: number }
const DEVICES: DemoDevice[] = [
  { id: 'demo-wl-kim-long', kind: 'water_level', name: 'Trạm thủy văn Kim Long (sông Hương)', station: 'kim-long', base: 0.6, peak: 4.0 },
  { id: 'demo-wl-phu-oc', kind: 'water_level', name: 'Trạm thủy văn Phú Ốc (sông Bồ)', station: 'phu-oc', base: 1.0, peak: 5.0 },
  { id: 'demo-rain-kim-long', kind: 'rain_gauge', name: 'Đo mưa Kim Long', station: 'kim-long' },
  { id: 'demo-rain-phu-oc', kind: 'rain_gauge', name: 'Đo mưa Phú Ốc', station: 'phu-oc' },
  { id: 'demo-aq-hue-center', kind: 'air_quality', name: 'Quan trắc không khí trung tâm Huế' },
  { id: 'demo-aq-phu-bai', kind: 'air_quality', name: 'Quan trắc không khí Phú Bài' },
  { id: 'demo-cam-1', kind: 'camera', name: 'Camera ngã tư Lê Lợi' },
  { id: 'demo-cam-2', kind: 'camera', name: 'Camera cầu Tràng Tiền' },
]

/** Flood hydrograph over 48 simulated hours: rise, crest near hour 20, recession. */
export function floodLevel(base: number, peak: number, hours: number): number {
  const h = hours % 48
  const shape = Math.exp(-((h - 20) ** 2) / (2 * 7 ** 2))
  return base + (peak - base) * shape
}

/** The samples folder found by the models' lookup (IOC_MODELS_DIR, models/, ../shared/models). */
export function samplesDir(modelsDir?: string): string | undefined {
  const photo = findSample('coco_000000001532.jpg', modelsDir)
  return photo ? dirname(photo) : undefined
}

export interface FieldOptions { apiUrl: string; token: string; mqttUrl: string; speed: number; seed: number; modelsDir?: string }

export async function startField(o: FieldOptions): Promise<{ close(): Promise<void> }> {
  const rand = rng(o.seed)
  const clients: mqtt.MqttClient[] = []
  const timers: NodeJS.Timeout[] = []
  const t0 = Date.now()
  // Simulated clock: starts 48 h back and runs at `speed` until it meets the wall clock, so the
  // gateway's windows (minimum durations, rise rates, 24 h rain) see compressed time, never future.
  const simStart = t0 - 48 * 3_600_000
  const simNow = () => Math.min(Date.now(), simStart + (Date.now() - t0) * o.speed)
  const simHours = () => (simNow() - simStart) / 3_600_000
  const frames = (() => {
    const d = samplesDir(o.modelsDir)
    return d ? readdirSync(d).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(join(d, f))) : []
  })()
  for (const dev of DEVICES) {
    const res = await fetch(`${o.apiUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: dev.id, kind: dev.kind, name: dev.name, ...(dev.station ? { station: dev.station } : {}) }),
    })
    if (res.status !== 201) throw new Error(`demo: registering ${dev.id} answered ${res.status}: ${await res.text()}`)
    const { credentials } = (await res.json()) as { credentials: { username: string; password: string } }
    const client = await mqtt.connectAsync(o.mqttUrl, { username: credentials.username, password: credentials.password, clientId: dev.id })
    clients.push(client)
    let seq = 0
    const periodMs = dev.kind === 'camera' ? 3000 : Math.max(200, 600_000 / o.speed) // 10 simulated minutes
    const tick = () => {
      if (dev.kind === 'camera') {
        if (!frames.length) return
        const img = frames[(seq++ + (dev.id.endsWith('2') ? 3 : 0)) % frames.length]!
        void client.publishAsync(`devices/${dev.id}/frames/${Date.now()}`, img, { qos: 1 }).catch(() => {})
        return
      }
      const h = simHours()
      const values: Record<string, number> = { battery: +(12.4 + rand() * 0.4).toFixed(2) }
      if (dev.kind === 'water_level') values.water_level = +(floodLevel(dev.base!, dev.peak!, h) + (rand() - 0.5) * 0.02).toFixed(3)
      if (dev.kind === 'rain_gauge') { values.rainfall = +(Math.max(0, 15 * Math.exp(-((h % 48 - 14) ** 2) / 50) + (rand() - 0.5) * 2)).toFixed(1); values.interval_s = 600 }
      if (dev.kind === 'air_quality') { values.pm25 = +(25 + rand() * 40).toFixed(1); values.pm10 = +(40 + rand() * 60).toFixed(1); values.no2 = +(20 + rand() * 30).toFixed(1) }
      void client.publishAsync(`devices/${dev.id}/telemetry`, JSON.stringify({ ts: simNow(), seq: seq++, values }), { qos: 1 }).catch(() => {})
    }
    tick()
    timers.push(setInterval(tick, periodMs))
  }
  return {
    async close() {
      for (const t of timers) clearInterval(t)
      await Promise.all(clients.map((c) => c.endAsync().catch(() => {})))
    },
  }
}

export function demoDataDir(given?: string): string {
  return given ?? mkdtempSync(join(tmpdir(), 'iocgw-demo-'))
}
