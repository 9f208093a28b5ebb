import mqtt from 'mqtt'
import { expect } from 'vitest'
import type { RunningGateway } from '../../gateway/app.ts'
import { WATER_LEVEL_RULE } from '../alerts/helpers.ts'
import { callApi, startQuietGateway } from '../support/gateway-api.ts'

// The gateway as `iocgw start` wires it, opening a water-level alert at the first reading above a
// station's level I (config/stations.yaml), and gauges feeding it over MQTT: the district-scope tests.

/** startQuietGateway on `dataDir` with its API's base URL; the water-level rule with no minimum duration put through the API as `adminToken`. */
export async function startAlertingGateway(
  dataDir: string,
  adminToken: string,
  more: Record<string, unknown> = {},
): Promise<{ gw: RunningGateway; base: string }> {
  const gw = await startQuietGateway(dataDir, adminToken, more)
  const base = `http://127.0.0.1:${gw.ports.http}`
  try {
    const put = await callApi(base, 'PUT', '/rules', { token: adminToken, body: { version: 1, rules: [WATER_LEVEL_RULE(0)] } })
    expect(put.status).toBe(200)
  } catch (err) {
    await gw.close()
    throw err
  }
  return { gw, base }
}

/** One water-level reading of gauge `id`, a minute old, over MQTT with the gauge's credentials (QoS 1: stored when answered). */
export async function sendLevel(
  gw: RunningGateway,
  credentials: { username: string; password: string },
  id: string,
  level: number,
): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { ...credentials, clientId: id, reconnectPeriod: 0 })
  await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: Date.now() - 60_000, seq: 1, values: { water_level: level } }), {
    qos: 1,
  })
  await c.endAsync()
}
