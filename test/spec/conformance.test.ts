// Conformance of the running gateway with docs/, the contract of record users see: the routes of
// the role table of docs/api.md in its OpenAPI document and served, the health, metrics and error
// shapes of docs/api.md and docs/operations.md, and a device's path of docs/mqtt.md. The checks go
// both ways: what the docs promise exists, and what the gateway offers is documented. The gateway
// is the real one, started in process by `startGateway` exactly as `iocgw start` wires it. The
// README, docs/cli.md and the CLI are checked in conformance-docs.test.ts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { ROOT } from '../support/gateway-process.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { DOC_API_ROUTES, DOC_ROUTE_ROWS, DOC_ROUTES, DOC_UNVERSIONED_ROUTES, openApiPath, ROLE_COLUMNS } from './docs.ts'

describe('the running gateway', () => {
  const ADMIN = 'conformance-admin-token-0123456789abcdef'
  const dir = tempDir('iocgw-spec-')
  let gw: RunningGateway
  let api: string
  let openapi: { paths: Record<string, Record<string, unknown>> }
  const clients: MqttClient[] = []
  let firstSecret = ''

  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = text
    }
    return { status: res.status, body: json as Record<string, any>, headers: res.headers }
  }

  const connect = (url: string, username: string, password: string) =>
    new Promise<MqttClient>((resolve, reject) => {
      // An empty client id: the broker assigns one (docs/mqtt.md "Client ids").
      const c = mqtt.connect(url, { username, password, clientId: '', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 })
      clients.push(c)
      c.once('connect', () => resolve(c))
      c.once('error', reject)
      c.once('close', () => reject(new Error(`${username}: connection closed before CONNACK`)))
    })

  beforeAll(async () => {
    const config = loadConfig({
      file: undefined,
      env: { IOC_DATA_DIR: dir.path, IOC_ADMIN_TOKEN: ADMIN, IOC_LOG_LEVEL: 'warn' },
      // Free ports rather than 0: the credentials' mqtt_url is built from the configured port.
      flags: { 'http.port': await freePort(), 'mqtt.port': await freePort(), 'mqtt.wsPort': await freePort() },
    })
    config.http.host = '127.0.0.1'
    config.mqtt.host = '127.0.0.1'
    gw = await startGateway({ config, notice: () => {} })
    api = `http://127.0.0.1:${gw.ports.http}`
    const res = await fetch(`${api}/docs/json`)
    expect(res.status).toBe(200)
    openapi = (await res.json()) as typeof openapi
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)))
    await gw?.close()
    dir.remove()
  })

  it.each(DOC_API_ROUTES.map(([m, p]) => [`${m} /api/v1${p}`, m, p] as const))('OpenAPI lists %s', (_name, method, path) => {
    const ops = openapi.paths[openApiPath(`/api/v1${path}`)]
    expect(ops?.[method.toLowerCase()], `${method} /api/v1${path} is not in /docs/json`).toBeDefined()
  })

  it.each(DOC_UNVERSIONED_ROUTES.map(([m, p]) => [`${m} ${p}`, m, p] as const))('OpenAPI lists %s (unversioned)', (_name, method, path) => {
    expect(openapi.paths[path]?.[method.toLowerCase()], `${method} ${path} is not in /docs/json`).toBeDefined()
  })

  it('docs/api.md lists every route the gateway serves (its role table)', () => {
    const documented = new Set([
      ...DOC_API_ROUTES.map(([m, p]) => `${m} ${openApiPath(`/api/v1${p}`)}`),
      ...DOC_ROUTES.unversioned.map(([m, p]) => `${m} ${p}`),
    ])
    const served = Object.entries(openapi.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .filter((r) => !/ \/docs/.test(r) && !r.startsWith('HEAD '))
    expect(
      served.filter((r) => !documented.has(r)),
      'served but not in the role table of docs/api.md',
    ).toEqual([])
  })

  // docs/api.md "Authentication and roles": admin (everything), technician (devices), officer (read,
  // acknowledge and resolve alerts), viewer (read). Roles are read from each operation's
  // "Roles: ..." line, which buildApi writes from the route's declared roles.
  const rolesOf = (method: string, path: string): string[] | undefined => {
    const op = openapi.paths[openApiPath(`/api/v1${path}`)]?.[method.toLowerCase()] as
      { description?: string; security?: unknown[] } | undefined
    // A public route (no token, e.g. POST /auth/login) has an empty security list: anyone may call it.
    if (op && Array.isArray(op.security) && op.security.length === 0) return [...ROLE_COLUMNS]
    const line = /Roles: ([a-z, ]+)\./.exec(op?.description ?? '')?.[1]
    return op
      ? (line ?? '')
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean)
      : undefined
  }
  it.each(DOC_API_ROUTES.map(([m, p]) => [`${m} /api/v1${p}`, m, p] as const))(
    'roles of %s are those of docs/api.md',
    (_name, method, path) => {
      const roles = rolesOf(method, path)
      if (roles === undefined) return // missing from OpenAPI: reported by the check above
      const documented = DOC_ROUTE_ROWS.find((r) => !r.unversioned && r.method === method && r.path === path)!.roles
      expect(documented, 'admin may do everything').toContain('admin')
      expect([...roles].sort(), 'the roles the route accepts').toEqual([...documented].sort())
    },
  )

  it('GET /docs serves the OpenAPI UI, GET /healthz and /readyz answer without a token', async () => {
    const docs = await fetch(`${api}/docs`, { redirect: 'follow' })
    expect(docs.status).toBe(200)
    expect(docs.headers.get('content-type')).toMatch(/text\/html/)
    expect((await fetch(`${api}/healthz`)).status).toBe(200)
    // 503 while the vision models load in their workers, then 200.
    await waitFor(async () => (await fetch(`${api}/readyz`)).status === 200, 60_000, 200)
  })

  it('/readyz reports the broker, the stores and the model (docs/operations.md "Health and readiness")', async () => {
    const ready = (await (await fetch(`${api}/readyz`)).json()) as { checks: Record<string, unknown> }
    const names = Object.keys(ready.checks)
    expect(names).toContain('broker')
    expect(
      names.some((n) => /store/.test(n)),
      `stores in ${names.join(', ')}`,
    ).toBe(true)
    expect(
      names.some((n) => /model|vision/.test(n)),
      `model in ${names.join(', ')}`,
    ).toBe(true)
  })

  it('GET /metrics is Prometheus text with the families of docs/operations.md: messages in, rejected by reason, stored', async () => {
    const res = await call('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/plain/)
    const text = String(res.body)
    for (const name of ['iocgw_mqtt_messages_in_total', 'iocgw_ingest_rejected_total', 'iocgw_ingest_readings_stored_total']) {
      expect(text, name).toContain(`# TYPE ${name}`)
    }
  })

  it('docs/operations.md names every metric the running gateway exposes', async () => {
    const text = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')
    const exposed = String((await call('GET', '/metrics')).body)
    const names = [...exposed.matchAll(/^# TYPE iocgw_([a-z0-9_]+) /gm)]
      .map((m) => m[1] as string)
      .filter((n) => !/^(process|nodejs)_/.test(n))
    expect(names.length).toBeGreaterThan(10)
    expect(
      names.filter((n) => !text.includes(n)),
      'metrics missing from docs/operations.md',
    ).toEqual([])
  })

  it("errors have Fastify's shape {statusCode, error, message}", async () => {
    const none = await fetch(`${api}/api/v1/devices`)
    expect(none.status).toBe(401)
    const body = (await none.json()) as Record<string, unknown>
    expect(body).toMatchObject({ statusCode: 401, error: expect.any(String), message: expect.any(String) })
    const bad = await call('POST', '/api/v1/devices', { kind: 'volcano', name: 'x' })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ statusCode: 400, error: expect.any(String), message: expect.stringContaining('kind') })
  })

  it('POST /tokens answers 201 {id, name, role, token}; GET /tokens lists {items, next} without secrets', async () => {
    const made = await call('POST', '/api/v1/tokens', { role: 'viewer', name: 'conformance viewer' })
    expect(made.status).toBe(201)
    expect(Object.keys(made.body).sort()).toEqual(expect.arrayContaining(['id', 'name', 'role', 'token']))
    expect(made.body).toMatchObject({ name: 'conformance viewer', role: 'viewer', token: expect.any(String) })
    const list = await call('GET', '/api/v1/tokens')
    expect(list.status).toBe(200)
    expect(list.body).toMatchObject({ items: expect.any(Array), next: null })
    expect(JSON.stringify(list.body)).not.toContain(made.body.token)
    // docs/api.md: tokens are admin only.
    expect((await call('GET', '/api/v1/tokens', undefined, made.body.token)).status).toBe(403)
  })

  it('a registered device gets {username, password, mqtt_url}, connects, and publishes telemetry and status per docs/mqtt.md', async () => {
    const reg = await call('POST', '/api/v1/devices', {
      id: 'spec-kim-long',
      kind: 'water_level',
      name: 'Trạm Kim Long',
      station: 'kim-long',
      location: { lat: 16.4637, lon: 107.5606 },
    })
    expect(reg.status).toBe(201)
    expect(reg.body.device).toMatchObject({ id: 'spec-kim-long', kind: 'water_level', state: 'active' })
    const cred = reg.body.credentials as { username: string; password: string; mqtt_url: string }
    expect(Object.keys(cred).sort()).toEqual(['mqtt_url', 'password', 'username'])
    expect(cred.username).toBe('spec-kim-long')
    firstSecret = cred.password
    expect(cred.mqtt_url).toBe(`mqtt://127.0.0.1:${gw.ports.mqtt}`)
    // Only the creation answer shows the secret.
    expect(JSON.stringify((await call('GET', '/api/v1/devices/spec-kim-long')).body)).not.toContain(cred.password)

    // An integration (username `token`) watches telemetry and status, as docs/mqtt.md "Integrations" allows.
    const viewer = await call('POST', '/api/v1/tokens', { role: 'viewer', name: 'conformance integration' })
    const integ = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, 'token', viewer.body.token as string)
    const granted = await integ.subscribeAsync(['alerts/#', 'devices/+/telemetry', 'devices/+/status'], { qos: 1 })
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1])
    const seen: Array<{ topic: string; payload: string; retain: boolean }> = []
    integ.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }))

    const dev = await connect(cred.mqtt_url, cred.username, cred.password)
    const ts = new Date(Date.now() - 60_000).toISOString()
    // QoS 1: the PUBACK is the gateway's "stored".
    await dev.publishAsync(
      'devices/spec-kim-long/telemetry',
      JSON.stringify({ ts, seq: 1, values: { water_level: 2.31, battery: 12.6 } }),
      { qos: 1 },
    )
    await dev.publishAsync(
      'devices/spec-kim-long/telemetry',
      JSON.stringify([
        { ts: Date.now() - 50_000, seq: 2, values: { water_level: 2.33 } },
        { ts: Date.now() - 40_000, seq: 3, values: { water_level: 2.35 } },
      ]),
      { qos: 1 },
    )
    await dev.publishAsync(
      'devices/spec-kim-long/telemetry',
      JSON.stringify([{ bn: 'spec-kim-long:', bt: (Date.now() - 30_000) / 1000, n: 'water_level', u: 'cm', v: 237 }]),
      { qos: 1 },
    )
    await dev.publishAsync('devices/spec-kim-long/status', JSON.stringify({ online: true, ts: new Date().toISOString(), fw: '1.0.0' }), {
      qos: 1,
      retain: true,
    })

    await waitFor(() => seen.filter((s) => s.topic === 'devices/spec-kim-long/telemetry').length >= 3)
    await waitFor(() => seen.some((s) => s.topic === 'devices/spec-kim-long/status'))

    const metrics = String((await call('GET', '/metrics')).body)
    expect(metrics).toMatch(/^iocgw_ingest_readings_stored_total 4$/m)

    // A device may publish only under its own devices/{id}/: anything else closes it, counted.
    const closed = new Promise<void>((r) => dev.once('close', () => r()))
    dev.publish('devices/someone-else/telemetry', JSON.stringify({ values: { water_level: 1 } }), { qos: 1 })
    await closed
    expect(String((await call('GET', '/metrics')).body)).toMatch(/^iocgw_mqtt_publish_refused_total\{reason="other_device"\} 1$/m)

    // The retained status reaches a later subscriber with the retain flag.
    const late = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, 'token', viewer.body.token as string)
    const retained: Array<{ payload: string; retain: boolean }> = []
    late.on('message', (_t, payload, packet) => retained.push({ payload: payload.toString(), retain: packet.retain }))
    await late.subscribeAsync('devices/spec-kim-long/status', { qos: 1 })
    const first = await waitFor(() => retained[0])
    expect(first.retain).toBe(true)
    expect(JSON.parse(first.payload)).toMatchObject({ online: expect.any(Boolean) })
  })

  it('the readings API serves what the device published: {device, metric, unit, points: [{ts, value}]}', async () => {
    const res = await call('GET', '/api/v1/devices/spec-kim-long/readings?metric=water_level')
    expect(res.status, `GET /api/v1/devices/:id/readings: ${JSON.stringify(res.body)}`).toBe(200)
    expect(res.body).toMatchObject({ device: 'spec-kim-long', metric: 'water_level', unit: 'm' })
    const values = (res.body.points as Array<{ ts: string; value: number }>).map((p) => p.value)
    expect(values).toEqual([2.31, 2.33, 2.35, 2.37])
  })

  it('wrong or unknown credentials get CONNACK "bad username or password" (4); an integration publishes nothing', async () => {
    const url = `mqtt://127.0.0.1:${gw.ports.mqtt}`
    await expect(connect(url, 'spec-kim-long', 'wrong-secret')).rejects.toMatchObject({ code: 4 })
    await expect(connect(url, 'no-such-device', 'whatever')).rejects.toMatchObject({ code: 4 })
    await expect(connect(url, 'token', 'not-a-token')).rejects.toMatchObject({ code: 4 })

    const viewer = await call('POST', '/api/v1/tokens', { role: 'admin', name: 'conformance integration 2' })
    const integ = await connect(url, 'token', viewer.body.token as string)
    // Frames, config and cmd are never for integrations; `#` is refused.
    for (const filter of ['#', 'devices/+/frames', 'devices/spec-kim-long/cmd', 'devices/#']) {
      // SUBACK 0x80 for the filter (mqtt.js turns it into a rejection); the connection stays open.
      await expect(integ.subscribeAsync(filter, { qos: 1 }), filter).rejects.toThrow(/Subscribe error/)
    }
    expect(integ.connected).toBe(true)
    const closed = new Promise<void>((r) => integ.once('close', () => r()))
    integ.publish('alerts/water_level/kim-long', '{}', { qos: 1 })
    await closed
    expect(String((await call('GET', '/metrics')).body)).toMatch(/^iocgw_mqtt_publish_refused_total\{reason="read_only"\} 1$/m)
  })

  it('rotate-secret answers the same shape; the old secret is refused at once', async () => {
    const rot = await call('POST', '/api/v1/devices/spec-kim-long/rotate-secret')
    expect(rot.status).toBe(200)
    expect(Object.keys(rot.body.credentials).sort()).toEqual(['mqtt_url', 'password', 'username'])
    expect(rot.body.credentials.password).not.toBe(firstSecret)
    await expect(connect(rot.body.credentials.mqtt_url, 'spec-kim-long', firstSecret)).rejects.toMatchObject({ code: 4 })
    const c = await connect(rot.body.credentials.mqtt_url, 'spec-kim-long', rot.body.credentials.password)
    expect(c.connected).toBe(true)
  })
})
