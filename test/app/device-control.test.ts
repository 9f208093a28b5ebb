import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { requestAs } from '../support/gateway-api.ts'
import { useGatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ADMIN = 'device-control-admin-token-0123'

describe('gateway to device: config (retained) and commands with their answers', () => {
  const gw = useGatewayProcess(tempDir(), { IOC_ADMIN_TOKEN: ADMIN })
  const api = (method: string, path: string, body?: unknown) => requestAs(gw.apiUrl, ADMIN, method, path, body)

  it('a device connecting after PUT /config still receives it; a command is answered on cmd/ack', async () => {
    const made = await api('POST', '/api/v1/devices', { id: 'ctl-gauge-01', kind: 'water_level', name: 'Kim Long', station: 'kim-long' })
    expect(made.status).toBe(201)
    const creds = made.body.credentials as { username: string; password: string }

    const cfg = await api('PUT', '/api/v1/devices/ctl-gauge-01/config', { interval_s: 15 })
    expect([cfg.status, cfg.body]).toEqual([200, { interval_s: 15 }])

    const device = await mqtt.connectAsync(gw.mqttUrl, {
      username: creds.username,
      password: creds.password,
      clientId: creds.username,
      reconnectPeriod: 0,
    })
    const received: Array<{ topic: string; body: Record<string, unknown>; retain: boolean }> = []
    device.on('message', (topic, payload, packet) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>
      received.push({ topic, body, retain: packet.retain })
      if (topic.endsWith('/cmd')) {
        void device.publishAsync(
          'devices/ctl-gauge-01/cmd/ack',
          JSON.stringify({ id: body.id, cmd: body.cmd, ok: true, ts: new Date().toISOString(), result: 'pong' }),
          { qos: 1 },
        )
      }
    })
    await device.subscribeAsync(['devices/ctl-gauge-01/config', 'devices/ctl-gauge-01/cmd'], { qos: 1 })
    await waitFor(() => received.find((r) => r.topic.endsWith('/config')))
    expect(received[0]).toEqual({ topic: 'devices/ctl-gauge-01/config', body: { interval_s: 15 }, retain: true })

    const sent = await api('POST', '/api/v1/devices/ctl-gauge-01/cmd', { cmd: 'ping' })
    expect(sent.status).toBe(202)
    const id = sent.body.id as string
    const answered = await waitFor(async () => {
      const r = await api('GET', `/api/v1/devices/ctl-gauge-01/cmd/${id}`)
      return r.body.ack ? r : undefined
    })
    expect(answered.body).toMatchObject({ id, device: 'ctl-gauge-01', cmd: 'ping', ack: { id, ok: true, result: 'pong' } })
    await device.endAsync()
  })

  it('refuses an unknown device, unknown fields and a bad command name with a message naming them', async () => {
    expect((await api('PUT', '/api/v1/devices/no-such-device/config', { interval_s: 5 })).status).toBe(404)
    const extra = await api('PUT', '/api/v1/devices/ctl-gauge-01/config', { interval: 5 })
    expect(extra.status).toBe(400)
    expect(extra.body.message).toMatch(/interval/)
    const bad = await api('POST', '/api/v1/devices/ctl-gauge-01/cmd', { cmd: 'rm -rf' })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/cmd/)
  })
})
