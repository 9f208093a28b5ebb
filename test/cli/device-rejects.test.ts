import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { runIocgw } from '../support/cli.ts'
import { useGatewayProcess, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Refused messages as an operator meets them, on the real `iocgw start` process: acknowledged to
// the device (docs/mqtt.md), written once as a warning per device in the gateway log (never the
// payload), listed by `iocgw device rejects <id>`, camera frames refused on arrival included.

const ADMIN = 'rejects-e2e-admin-token-0123456789'
const SECRET_IN_PAYLOAD = 'pw-Zq81-never-logged'

const iocgw = (gw: GatewayProcess, args: string[]) => runIocgw(args, { IOC_API_URL: gw.apiUrl, IOC_TOKEN: ADMIN })

describe('iocgw device rejects and the refusal warning, on a running gateway', () => {
  const gw = useGatewayProcess(tempDir('iocgw-rejects-e2e-'), { IOC_ADMIN_TOKEN: ADMIN })

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    return (await res.json()) as { credentials: { password: string } }
  }

  it('lists refused telemetry and frames, newest first, and warns once per device without the payload', async () => {
    const gauge = await api('POST', '/devices', { id: 'rej-gauge-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' })
    const cam = await api('POST', '/devices', { id: 'rej-cam-01', kind: 'camera', name: 'Cầu Trường Tiền' })
    const g = await mqtt.connectAsync(gw.mqttUrl, {
      username: 'rej-gauge-01',
      password: gauge.credentials.password,
      clientId: 'rej-gauge-01',
      reconnectPeriod: 0,
    })
    const c = await mqtt.connectAsync(gw.mqttUrl, {
      username: 'rej-cam-01',
      password: cam.credentials.password,
      clientId: 'rej-cam-01',
      reconnectPeriod: 0,
    })
    try {
      // Each is acknowledged (the PUBACK comes: publishAsync resolves) though refused.
      await g.publishAsync('devices/rej-gauge-01/telemetry', `{"values": {"water_level": 1}, "password": "${SECRET_IN_PAYLOAD}"`, {
        qos: 1,
      })
      await g.publishAsync('devices/rej-gauge-01/telemetry', JSON.stringify({ values: { water_level: 9999 } }), { qos: 1 })
      await g.publishAsync('devices/rej-gauge-01/frames', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]), { qos: 1 })
      await c.publishAsync('devices/rej-cam-01/frames', Buffer.from(`GIF89a ${SECRET_IN_PAYLOAD}`), { qos: 1 })
    } finally {
      await g.endAsync()
      await c.endAsync()
    }

    const table = await iocgw(gw, ['device', 'rejects', 'rej-gauge-01'])
    expect(table.stderr).toBe('')
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^TIME\s+TOPIC\s+REASON\s+MESSAGE$/)
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(1, 3))).toEqual([
      ['frames', 'not_camera'],
      ['telemetry', 'out_of_range'],
      ['telemetry', 'invalid_json'],
    ])
    expect(lines[2]).toMatch(/water_level 9999 m is outside the plausible range/)

    const json = await iocgw(gw, ['device', 'rejects', 'rej-cam-01', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      items: [
        expect.objectContaining({ topic: 'devices/rej-cam-01/frames', reason: 'not_jpeg', message: expect.stringMatching(/not a JPEG/) }),
      ],
      next: null,
    })
    expect((await iocgw(gw, ['device', 'rejects', 'nobody-01'])).code).not.toBe(0)

    // One warning line per device (the first refusal; the rest wait for the minute to end).
    const warnings = await waitFor(() => {
      const found = gw
        .output()
        .split('\n')
        .filter((l) => l.includes('"refused"'))
      return found.length >= 2 ? found : undefined
    }, 30_000)
    expect(warnings.map((l) => JSON.parse(l) as { device: string; refused: number; reason: string })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ device: 'rej-gauge-01', refused: 1, reason: 'invalid_json' }),
        expect.objectContaining({ device: 'rej-cam-01', refused: 1, reason: 'not_jpeg' }),
      ]),
    )
    expect(warnings).toHaveLength(2)
    expect(gw.output()).not.toContain(SECRET_IN_PAYLOAD)
  }, 240_000)
})
