// Real MQTT clients for the cluster tests: a device that publishes QoS 1 telemetry with unique
// `seq` values and its own `ts` (docs/mqtt.md: a device that resends sends `ts`), reconnecting as a
// device does, and that remembers which readings were acknowledged; and the InfluxDB side, to
// compare what was acknowledged with what is stored.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { expect } from 'vitest'
import type { Influxd } from './influxd.ts'
import { waitFor } from './services.ts'

export interface Registered {
  id: string
  secret: string
}

/** Registers a water-level device over the API (POST /devices) and answers its credentials. */
export async function registerDevice(api: (m: string, p: string, b?: unknown) => Promise<Response>, id: string): Promise<Registered> {
  const res = await api('POST', '/devices', { id, kind: 'water_level', name: `Trạm ${id}` })
  if (res.status !== 201) throw new Error(`POST /devices ${id}: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { credentials: { username: string; password: string } }
  return { id, secret: body.credentials.password }
}

export const onlineStatus = JSON.stringify({ online: true })
export const offlineWill = JSON.stringify({ online: false })

/** Options of a device client: reconnects every 300 ms, with an offline status will. */
export function deviceOptions(d: Registered, extra: IClientOptions = {}): IClientOptions {
  return {
    username: d.id,
    password: d.secret,
    clientId: d.id,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 300,
    connectTimeout: 30_000,
    will: { topic: `devices/${d.id}/status`, payload: Buffer.from(offlineWill), qos: 1, retain: true },
    ...extra,
  }
}

/**
 * One device publishing `{"ts", "seq", "values"}` at QoS 1, one message in flight at a time, every
 * `intervalMs`; on each (re)connect it publishes its retained online status first, as a device
 * does. mqtt.js keeps an unacknowledged PUBLISH and sends it again after reconnecting, so a
 * publish resolves once some node acknowledged it.
 */
export class Publisher {
  readonly client: MqttClient
  /** seq → ts of every reading whose PUBACK arrived. */
  readonly acked = new Map<number, number>()
  /** seq → ts of every reading sent (acknowledged or not). */
  readonly sent = new Map<number, number>()
  connects = 0
  closes = 0
  private running = false
  private loop: Promise<void> | undefined
  private lastTs = 0

  constructor(
    readonly device: Registered,
    url: string,
    private readonly intervalMs: number,
  ) {
    this.client = mqtt.connect(url, deviceOptions(device))
    this.client.on('error', () => {})
    this.client.on('close', () => this.closes++)
    this.client.on('connect', () => {
      this.connects++
      this.client.publish(`devices/${device.id}/status`, onlineStatus, { qos: 1, retain: true }, () => {})
    })
  }

  get connected(): boolean {
    return this.client.connected
  }

  /** Resolves once connected. */
  ready(): Promise<void> {
    if (this.client.connected) return Promise.resolve()
    return new Promise((resolve) => this.client.once('connect', () => resolve()))
  }

  start(): void {
    this.running = true
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    let seq = 0
    while (this.running) {
      seq++
      const ts = Math.max(Date.now(), this.lastTs + 1)
      this.lastTs = ts
      this.sent.set(seq, ts)
      const payload = JSON.stringify({ ts, seq, values: { water_level: 1 + (seq % 100) / 100 } })
      try {
        await this.client.publishAsync(`devices/${this.device.id}/telemetry`, payload, { qos: 1 })
        this.acked.set(seq, ts)
      } catch {
        // Not acknowledged (the client was ended): not counted.
      }
      await new Promise((r) => setTimeout(r, this.intervalMs))
    }
  }

  /** Stops publishing; waits for the message in flight to be acknowledged (or `graceMs`). */
  async stop(graceMs = 60_000): Promise<void> {
    this.running = false
    if (this.loop) await Promise.race([this.loop, new Promise((r) => setTimeout(r, graceMs))])
  }

  async end(): Promise<void> {
    this.running = false
    await this.client.endAsync(true).catch(() => {})
  }
}

/** The readings of `device` stored in InfluxDB: seq and time (ms) of each point. */
export async function storedReadings(influxd: Influxd, device: string): Promise<Array<{ seq: number; ts: number }>> {
  const params = new URLSearchParams({ db: 'ioc', epoch: 'ms', q: `SELECT "seq" FROM "readings" WHERE "device" = '${device}'` })
  const res = await fetch(`${influxd.url}/query`, { method: 'POST', body: params })
  if (!res.ok) throw new Error(`influxd query ${res.status}: ${await res.text()}`)
  const r = (await res.json()) as { results: Array<{ series?: Array<{ values: Array<[number, number]> }> }> }
  const values = r.results[0]?.series?.[0]?.values ?? []
  return values.map(([time, seq]) => ({ ts: time, seq }))
}

/**
 * What differs between the acknowledged readings and the stored ones: acknowledged but missing,
 * stored more than once (same seq twice), or stored under another time than the device gave.
 */
export async function compareStored(
  influxd: Influxd,
  p: Publisher,
): Promise<{ missing: number[]; duplicated: number[]; wrongTime: number[]; stored: number }> {
  const stored = await storedReadings(influxd, p.device.id)
  const count = new Map<number, number>()
  const timeOf = new Map<number, number>()
  for (const s of stored) {
    count.set(s.seq, (count.get(s.seq) ?? 0) + 1)
    timeOf.set(s.seq, s.ts)
  }
  const missing = [...p.acked.keys()].filter((seq) => !count.has(seq))
  const duplicated = [...count].filter(([, n]) => n > 1).map(([seq]) => seq)
  const wrongTime = [...p.acked].filter(([seq, ts]) => timeOf.has(seq) && timeOf.get(seq) !== ts).map(([seq]) => seq)
  return { missing, duplicated, wrongTime, stored: stored.length }
}

/** Waits up to 60 s for every publisher's acknowledged readings, then expects each stored once, at the device's time. */
export async function expectStoredOnce(influxd: Influxd, publishers: Publisher[]): Promise<void> {
  await waitFor(
    async () => {
      for (const p of publishers) if ((await compareStored(influxd, p)).missing.length > 0) return false
      return true
    },
    60_000,
    500,
  ).catch(() => undefined)
  for (const p of publishers) {
    const cmp = await compareStored(influxd, p)
    expect({ device: p.device.id, missing: cmp.missing, duplicated: cmp.duplicated, wrongTime: cmp.wrongTime }).toEqual({
      device: p.device.id,
      missing: [],
      duplicated: [],
      wrongTime: [],
    })
    expect(cmp.stored).toBeGreaterThanOrEqual(p.acked.size)
  }
}

/**
 * Connects and resolves on CONNACK (no reconnecting unless asked). `onMessage` listens from the
 * start: a resumed session's queued messages may come in the same read as the CONNACK, and mqtt.js
 * emits them (process.nextTick) before a listener added after the returned promise settles.
 */
export function connectOnce(
  url: string,
  opts: IClientOptions,
  onMessage?: (topic: string, payload: Buffer) => void,
): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000, ...opts })
    if (onMessage) c.on('message', onMessage)
    c.once('connect', (packet) => resolve({ client: c, sessionPresent: packet.sessionPresent }))
    c.once('error', (err) => {
      c.end(true)
      reject(err)
    })
  })
}

/** The retained status of each device, as a new subscriber on `url` receives it. */
export async function retainedStatuses(
  url: string,
  opts: IClientOptions,
  devices: string[],
): Promise<Record<string, { online?: boolean }>> {
  const { client } = await connectOnce(url, { ...opts, clean: true, clientId: `${String(opts.clientId)}-r${Date.now() % 100000}` })
  const got: Record<string, { online?: boolean }> = {}
  client.on('message', (topic, payload, packet) => {
    const id = /^devices\/([^/]+)\/status$/.exec(topic)?.[1]
    if (id && packet.retain) got[id] = JSON.parse(payload.toString()) as { online?: boolean }
  })
  try {
    await client.subscribeAsync(
      devices.map((d) => `devices/${d}/status`),
      { qos: 1 },
    )
    const end = Date.now() + 10_000
    while (Date.now() < end && devices.some((d) => !(d in got))) await new Promise((r) => setTimeout(r, 100))
  } finally {
    await client.endAsync(true)
  }
  return got
}
