// Connection floods: `mqtt.maxConnectionsPerAddress` on TCP and WebSocket together,
// `mqtt.maxConnections` in all, and the pre-CONNACK timeout on WebSocket sockets too
// (docs/operations.md, Security). 19,990 idle WebSocket sockets from one address once took every
// file descriptor, and /healthz and real devices were refused.
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../support/services.ts'
import { makeApi, type TestApi } from '../api/support.ts'
import { defaultMaxConnections, openFileLimit } from '../../gateway/broker/conn-guard.ts'
import { startBroker, type Harness } from './harness.ts'
import { watchClose } from './raw.ts'

const harnesses: Harness[] = []
let api: TestApi | undefined
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()))
  await api?.close()
})

async function broker(config: NonNullable<Parameters<typeof startBroker>[0]>['config']): Promise<Harness> {
  const h = await startBroker({ config })
  harnesses.push(h)
  return h
}

interface Raw {
  s: Socket
  closed: () => boolean
  gone: Promise<void>
}
function raw(port: number, localAddress?: string): Raw {
  const s = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
  return { s, ...watchClose(s) }
}

function ws(url: string): { w: WebSocket; closed: () => boolean; gone: Promise<void> } {
  const w = new WebSocket(url, 'mqtt')
  return { w, ...watchClose(w) }
}

describe('connection caps', () => {
  it('refuses sockets past the per-address cap on TCP and WebSocket together, not other addresses', async () => {
    const h = await broker({ maxConnectionsPerAddress: 6, connectTimeoutMs: 60_000 })
    const tcp = Array.from({ length: 4 }, () => raw(h.ports.mqtt))
    await waitFor(() => h.broker.socketStats().sockets === 4)
    const webs = Array.from({ length: 2 }, () => ws(h.wsUrl))
    await Promise.all(webs.map(({ w }) => new Promise<void>((r) => w.once('open', () => r()))))
    expect(h.broker.socketStats().sockets).toBe(6)

    const extraTcp = raw(h.ports.mqtt)
    const extraWs = ws(h.wsUrl)
    await extraTcp.gone
    await extraWs.gone
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'address_limit' })).toBe(2)
    expect([...tcp, ...webs].filter((x) => x.closed())).toHaveLength(0)

    // Another address (a second loopback address) is not affected.
    const other = raw(h.ports.mqtt, '127.0.0.2')
    await waitFor(() => h.broker.socketStats().addresses === 2)
    expect(other.closed()).toBe(false)

    // A socket closing frees its place.
    tcp[0]!.s.destroy()
    await waitFor(() => h.broker.socketStats().sockets === 6)
    const again = raw(h.ports.mqtt)
    await waitFor(() => h.broker.socketStats().sockets === 7)
    expect(again.closed()).toBe(false)
    for (const x of [...tcp, other, again]) x.s.destroy()
    for (const x of webs) x.w.terminate()
  })

  it('refuses MQTT sockets past the total cap while the HTTP API still answers', async () => {
    const h = await broker({ maxConnections: 20, maxConnectionsPerAddress: 1000, connectTimeoutMs: 60_000 })
    api = await makeApi({ allRoutes: false })
    const base = await api.app.listen({ port: 0, host: '127.0.0.1' })
    const held = Array.from({ length: 20 }, () => raw(h.ports.mqtt))
    await waitFor(() => h.broker.socketStats().sockets === 20)
    const refused = [raw(h.ports.mqtt), raw(h.ports.ws)]
    await Promise.all(refused.map((x) => x.gone))
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'total_limit' })).toBe(2)
    const health = await fetch(`${base}/healthz`)
    expect(health.status).toBe(200)
    expect(held.filter((x) => x.closed())).toHaveLength(0)
    for (const x of held) x.s.destroy()
  })
})

describe('pre-CONNACK timeout', () => {
  it('closes a WebSocket-port socket that never upgrades, and an upgraded one that never sends CONNECT, as on TCP', async () => {
    const h = await broker({ connectTimeoutMs: 300 })
    const idleHttp = raw(h.ports.ws)
    const idleTcp = raw(h.ports.mqtt)
    const idleWs = ws(h.wsUrl)
    await Promise.all([idleHttp.gone, idleTcp.gone, idleWs.gone])
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'connect_timeout' })).toBeGreaterThanOrEqual(2)
    // A device that connects in time is not affected once it has its CONNACK.
    const secret = await h.addDevice('flood-wl-01')
    const c = await h.connect('flood-wl-01', secret, { protocol: 'ws', port: h.ports.ws, path: '/mqtt', hostname: '127.0.0.1' })
    await new Promise((r) => setTimeout(r, 600))
    expect(c.connected).toBe(true)
  })
})

describe('default total cap', () => {
  it('keeps a tenth of the open-file limit (at least 1,024) for the rest of the gateway', () => {
    expect(defaultMaxConnections(20_000)).toBe(18_000)
    expect(defaultMaxConnections(4096)).toBe(3072)
    expect(defaultMaxConnections(undefined)).toBe(10_000)
    const limit = openFileLimit()
    if (limit !== undefined) expect(defaultMaxConnections(limit)).toBeLessThan(limit)
  })
})
