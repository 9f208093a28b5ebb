// What a client may make the gateway hold before its CONNACK: `mqtt.maxConnectBytes` per socket
// and `mqtt.preAuthBudgetBytes` for all (docs/operations.md, Security). 400 sockets each declaring
// a ~2 MB CONNECT and trickling it once raised the gateway's RSS by 625 MB.
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectHeader } from '../support/mqtt-wire.ts'
import { waitFor } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'
import { watchClose } from './raw.ts'

let h: Harness
const MAX_CONNECT = 64 * 1024
const BUDGET = 256 * 1024

beforeAll(async () => {
  h = await startBroker({ config: { maxConnectBytes: MAX_CONNECT, preAuthBudgetBytes: BUDGET } })
})
afterAll(async () => {
  await h?.stop()
})

/** A raw socket that resolves `gone` when the gateway closes it. */
function rawSocket(): { s: Socket; gone: Promise<void>; isGone: () => boolean } {
  const s = connect({ port: h.ports.mqtt, host: '127.0.0.1' })
  const { closed, gone } = watchClose(s)
  return { s, gone, isGone: closed }
}

describe('before CONNACK', () => {
  it('closes sockets that declare a 2 MB CONNECT at once, and holds none of it', async () => {
    const before = await h.counter('mqtt_connections_closed_total', { reason: 'preauth_bytes' })
    const n = 40
    const socks = Array.from({ length: n }, () => rawSocket())
    for (const { s } of socks) s.write(connectHeader(2_000_000))
    await Promise.all(socks.map((x) => x.gone))
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'preauth_bytes' })).toBe(before + n)
    await waitFor(() => h.broker.socketStats().sockets === 0)
  })

  it('keeps the bytes all unauthenticated sockets hold under the budget, then frees it', async () => {
    const before = await h.counter('mqtt_connections_closed_total', { reason: 'preauth_budget' })
    // Ten sockets each under the per-socket limit, 480 KiB together against a 256 KiB budget.
    const socks = Array.from({ length: 10 }, () => rawSocket())
    await waitFor(() => h.broker.socketStats().sockets === 10)
    const body = Buffer.alloc(48 * 1024, 0x42)
    let maxHeld = 0
    for (const { s } of socks) {
      s.write(connectHeader(60_000))
      s.write(body)
      await new Promise((r) => setTimeout(r, 20))
      maxHeld = Math.max(maxHeld, h.broker.socketStats().preAuthBytes)
    }
    await waitFor(async () => (await h.counter('mqtt_connections_closed_total', { reason: 'preauth_budget' })) > before)
    expect(h.broker.socketStats().preAuthBytes).toBeLessThanOrEqual(BUDGET)
    expect(maxHeld).toBeLessThanOrEqual(BUDGET + 64 * 1024)
    expect(socks.filter((x) => x.isGone()).length).toBeGreaterThan(0)
    for (const { s } of socks) s.destroy()
    await waitFor(() => h.broker.socketStats().sockets === 0)
    expect(h.broker.socketStats().preAuthBytes).toBe(0)
    // A real device still gets in, and once connected may send a 1 MiB frame (the limit is before CONNACK only).
    const secret = await h.addDevice('preauth-cam-01', 'camera')
    const c = await h.connect('preauth-cam-01', secret)
    await c.publishAsync('devices/preauth-cam-01/frames', Buffer.alloc(1024 * 1024, 7), { qos: 1 })
    expect(h.broker.socketStats().preAuthBytes).toBe(0)
  })

  it('closes a WebSocket that sends a large message before CONNECT', async () => {
    const before = await h.counter('mqtt_connections_closed_total', { reason: 'preauth_bytes' })
    const ws = new WebSocket(h.wsUrl, 'mqtt')
    ws.on('error', () => {})
    await new Promise<void>((r) => ws.once('open', () => r()))
    const gone = new Promise<void>((r) => ws.once('close', () => r()))
    ws.send(Buffer.alloc(1024 * 1024, 0x43))
    await gone
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'preauth_bytes' })).toBe(before + 1)
  })
})
