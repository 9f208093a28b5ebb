// TCP keepalive on MQTT connections: a client that asked for no MQTT keepalive (0) still has its
// socket probed by the kernel, so a link that died without a FIN ends the session. Checked with
// the kernel's own view of the connection (`ss -o` shows the keepalive timer).
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireCommand } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'

const hasSs = requireCommand('ss')
let h: Harness

beforeAll(async () => {
  h = await startBroker()
})
afterAll(async () => {
  await h?.stop()
})

/** The gateway side of established connections on a local port, with timers (`ss -tno`). */
function serverSockets(port: number): string[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' })
  return out.split('\n').filter((l) => l.trim().length > 0)
}

describe.skipIf(!hasSs)('TCP keepalive', () => {
  it('is on for MQTT over TCP and over WebSocket, also when the client asks for no MQTT keepalive', async () => {
    const secret = await h.addDevice('ka-1')
    await h.connect('ka-1', secret, { keepalive: 0 })
    const tcp = serverSockets(h.ports.mqtt)
    expect(tcp).toHaveLength(1)
    expect(tcp[0]).toMatch(/timer:\(keepalive,/)

    const token = await h.addToken('viewer')
    await h.connect('token', token, { keepalive: 0, protocol: 'ws', port: h.ports.ws, path: '/mqtt', hostname: '127.0.0.1' })
    const ws = serverSockets(h.ports.ws)
    expect(ws).toHaveLength(1)
    expect(ws[0]).toMatch(/timer:\(keepalive,/)
  })
})
