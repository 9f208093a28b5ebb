// Deliveries and wills across two brokers on a real redis-server (docs/operations.md "MQTT across
// nodes"): messages of one node that reach another out of the order they were numbered are all
// delivered; and the sweep of a dead node's wills publishes every will it may, drops those the
// gateway refuses for good (a deleted device), logged and counted, without holding back the others.
import { createRequire } from 'node:module'
import { connect as netConnect } from 'node:net'
import { Redis } from 'ioredis'
import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { useBrokerPair } from './cluster-pair.ts'
import type { Harness } from './harness.ts'
import { connectBytes } from './raw.ts'
import { requireRedis } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const require = createRequire(import.meta.url)
const msgpack = require('msgpack-lite') as { encode(v: unknown): Buffer }

const ok = requireRedis()
const DEVICE = 'dl-gauge-01'
const SLEEPERS = Array.from({ length: 20 }, (_, i) => `dl-sleep-${String(i + 1).padStart(2, '0')}`)
const HEARTBEAT_MS = 500

describe.skipIf(!ok)('deliveries and wills across two brokers', () => {
  const pair = useBrokerPair({ devices: [DEVICE, ...SLEEPERS], heartbeatMs: HEARTBEAT_MS })

  const connect = async (url: string, username: string, password: string, clientId: string) => {
    const c = await mqtt.connectAsync(url, { username, password, clientId, clean: true, reconnectPeriod: 0 })
    pair.clients.push(c)
    return c
  }

  it('delivers every message of a node to a subscriber on another, though a retained status is routed after the telemetry numbered next', async () => {
    const sub = await connect(pair.b.url, 'token', pair.token.secret, `${pair.token.id}:order`)
    const got = new Set<string>()
    sub.on('message', (_t, p) => got.add(p.toString()))
    await sub.subscribeAsync([`devices/${DEVICE}/status`, `devices/${DEVICE}/telemetry`], { qos: 1 })
    const dev = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, DEVICE)
    const sent: string[] = []
    for (let seq = 1; seq <= 20; seq++) {
      // The status is stored as the retained one (a Redis round trip) before node A routes it; the
      // telemetry right after it is routed at once.
      const status = JSON.stringify({ online: true, ts: new Date().toISOString(), uptime: seq })
      const reading = JSON.stringify({ seq, values: { water_level: 1 } })
      sent.push(status, reading)
      await Promise.all([
        dev.publishAsync(`devices/${DEVICE}/status`, status, { qos: 1, retain: true }),
        dev.publishAsync(`devices/${DEVICE}/telemetry`, reading, { qos: 1 }),
      ])
    }
    await waitFor(() => sent.every((m) => got.has(m)), 20_000).catch(() => undefined)
    expect(sent.filter((m) => !got.has(m))).toEqual([])
  })

  it('answers a persistent session resumed while its messages stream in with the CONNACK first (MQTT-3.2.0-1)', async () => {
    const id = `${pair.token.id}:resume`
    const first = await mqtt.connectAsync(pair.a.url, {
      username: 'token',
      password: pair.token.secret,
      clientId: id,
      clean: false,
      reconnectPeriod: 0,
    })
    pair.clients.push(first)
    await first.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 })
    await first.endAsync()
    // A device on the other node publishing without pause while the session comes back, again and
    // again: aedes restores the session's subscriptions a few Redis round trips before it sends the
    // CONNACK, and a message delivered live in between went out first (mqtt.js then waits for
    // ever: its PUBACK is held until the CONNACK, which is parsed after it).
    const dev = await connect(pair.b.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:stream`)
    let streaming = true
    const stream = (async () => {
      for (let seq = 0; streaming; seq++) {
        dev.publish(`devices/${DEVICE}/telemetry`, JSON.stringify({ seq, values: { water_level: 1 } }), { qos: 0 })
        if (seq % 20 === 0) await new Promise((r) => setImmediate(r))
      }
    })()
    const firstPacketType = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const s = netConnect(pair.a.ports.mqtt, '127.0.0.1', () =>
          s.write(connectBytes({ clientId: id, clean: false, username: 'token', password: pair.token.secret })),
        )
        const timer = setTimeout(() => (s.destroy(), reject(new Error('no answer to CONNECT'))), 10_000)
        s.once('data', (d: Buffer) => {
          clearTimeout(timer)
          s.destroy()
          resolve(d[0]! >> 4)
        })
        s.once('error', reject)
      })
    const types: number[] = []
    try {
      for (let i = 0; i < 30; i++) types.push(await firstPacketType())
    } finally {
      streaming = false
      await stream
    }
    // 2 is CONNACK, 3 PUBLISH.
    expect(types.filter((t) => t !== 2)).toEqual([])
  }, 60_000)

  it("publishes every will of a dead node's clients; one for a deleted device is dropped, logged and counted", async () => {
    const sub = await connect(pair.b.url, 'token', pair.token.secret, `${pair.token.id}:wills`)
    const offline = new Set<string>()
    sub.on('message', (topic, p) => {
      const id = /^devices\/([^/]+)\/status$/.exec(topic)?.[1]
      if (id && (JSON.parse(p.toString()) as { online: boolean }).online === false) offline.add(id)
    })
    await sub.subscribeAsync('devices/+/status', { qos: 1 })

    // Wills as aedes-persistence-redis stores them (putWill) for a run of a node that is gone: the
    // first for a device deleted since, then one per device.
    const dead = 'node-x~1'
    const db = new Redis(pair.redis.url)
    const willKey = (clientId: string) => `will:${dead}:${encodeURIComponent(clientId)}`
    const store = async (clientId: string) => {
      const will = {
        topic: `devices/${clientId}/status`,
        payload: Buffer.from(JSON.stringify({ online: false, ts: new Date().toISOString() })),
        qos: 1,
        retain: true,
        clientId,
        brokerId: dead,
      }
      await db.set(willKey(clientId), msgpack.encode(will))
      await db.rpush('will', willKey(clientId))
    }
    try {
      await store('dl-deleted-01')
      for (const id of SLEEPERS) await store(id)

      await waitFor(() => SLEEPERS.every((id) => offline.has(id)), 30_000).catch(() => undefined)
      expect(SLEEPERS.filter((id) => !offline.has(id))).toEqual([])
      await waitFor(async () => (await db.exists(willKey('dl-deleted-01'))) === 0, 10_000).catch(() => undefined)
      expect(await db.exists(willKey('dl-deleted-01')), 'the refused will is dropped, not retried for ever').toBe(0)
      expect((await db.lrange('will', 0, -1)).filter((k) => k.startsWith(`will:${dead}:`))).toEqual([])
      const dropped = async (h: Harness) => h.counter('mqtt_wills_dropped_total', { reason: 'unknown_device' })
      expect((await dropped(pair.a)) + (await dropped(pair.b))).toBeGreaterThanOrEqual(1)
      expect([...pair.a.lines, ...pair.b.lines].some((l) => l.includes('"event":"mqtt_will_dropped"') && l.includes('dl-deleted-01'))).toBe(
        true,
      )
    } finally {
      db.disconnect()
    }
  }, 60_000)
})
