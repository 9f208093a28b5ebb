import { expect } from 'vitest'
import { connectDevice } from './gateway-api.ts'
import type { GatewayProcess } from './gateway-process.ts'
import { waitFor } from './services.ts'

// A gateway as a province leaves it after some use, made through its API and MQTT: rules, a Kim
// Long gauge with its secret, an officer with a password, a contact, and the gauge's level over
// alarm III opening an alert that the officer acknowledged. For tests that carry a gateway's state
// somewhere else (a cluster's first start, a restore from backup) and compare what it answers.

export const OFFICER = { name: 'an', password: 'mật-khẩu-trực-ban-2026' }

export interface ProvinceInUse {
  credentials: { username: string; password: string }
  alertId: string
  /** Publishes a Kim Long reading through `gw` with the gauge's own credentials. */
  publishLevel(gw: GatewayProcess, level: number): Promise<void>
}

/** The admin API of one gateway process. */
export function adminApi(admin: string) {
  const call = (gw: GatewayProcess, method: string, path: string, body?: unknown) =>
    fetch(`${gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
  const json = async <T>(gw: GatewayProcess, path: string): Promise<T> => (await (await call(gw, 'GET', path)).json()) as T
  return { call, json }
}

export async function makeProvinceInUse(gw: GatewayProcess, admin: string): Promise<ProvinceInUse> {
  const { call, json } = adminApi(admin)
  const rules = { version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }
  expect((await call(gw, 'PUT', '/rules', rules)).status).toBe(200)
  const made = await call(gw, 'POST', '/devices', { id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' })
  expect(made.status).toBe(201)
  const { credentials } = (await made.json()) as { credentials: { username: string; password: string } }
  expect((await call(gw, 'POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201)
  const contact = { name: 'Trực ban', phone: '0905123456', role: 'officer', channels: ['sms'] }
  expect((await call(gw, 'POST', '/subscriptions', contact)).status).toBe(201)
  const publishLevel = async (to: GatewayProcess, level: number) => {
    const device = await connectDevice(to.mqttUrl, credentials)
    try {
      await device.publishAsync('devices/kim-long-01/telemetry', JSON.stringify({ values: { water_level: level } }), { qos: 1 })
    } finally {
      await device.endAsync(true)
    }
  }
  await publishLevel(gw, 5)
  const alertId = await waitFor(
    async () => (await json<{ items: Array<{ id: string }> }>(gw, '/alerts?station=kim-long')).items[0]?.id,
    30_000,
  )
  expect((await call(gw, 'POST', `/alerts/${alertId}/ack`, { note: 'Đã báo trực ban' })).status).toBe(200)
  return { credentials, alertId, publishLevel }
}

/** What the gateway answers of that state (a login records its time on the user: ask before logging in). */
export async function answersOf(gw: GatewayProcess, admin: string, alertId: string) {
  const { json } = adminApi(admin)
  return {
    device: await json(gw, '/devices/kim-long-01'),
    alert: await json(gw, `/alerts/${alertId}`),
    rules: await json(gw, '/rules'),
    contacts: await json(gw, '/subscriptions'),
    users: await json(gw, '/users'),
  }
}
