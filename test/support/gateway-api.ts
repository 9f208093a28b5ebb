import { Writable } from 'node:stream'
import mqtt from 'mqtt'
import Value from 'typebox/value'
import { expect } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { ConfigSchema, type GatewayConfig } from '../../gateway/config/schema.ts'
import { waitFor } from './services.ts'

// The gateway as `iocgw start` wires it, in the test process, and what a client of its HTTP API
// (docs/api.md) does over a real socket: calls with a token or a cookie session, logging in, and
// reading the event stream; devices registered through it that publish over MQTT.

/** A log destination that drops every line. */
export const quietLog = (): Writable => new Writable({ write: (_c, _e, cb) => cb() })

/**
 * The config of a gateway on free ports of 127.0.0.1 in `dataDir`, with vision off and
 * `adminToken` as its admin token; `more` adds config sections (e.g. `notify`).
 */
export function testGatewayConfig(dataDir: string, adminToken: string, more: Record<string, unknown> = {}): GatewayConfig {
  return Value.Default(ConfigSchema, {
    server: { dataDir, logLevel: 'warn' },
    http: { host: '127.0.0.1', port: 0 },
    mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
    auth: { adminToken },
    vision: { enabled: false },
    ...more,
  }) as GatewayConfig
}

/** Starts the gateway of `testGatewayConfig`; its log and notices go nowhere. */
export async function startQuietGateway(dataDir: string, adminToken: string, more: Record<string, unknown> = {}): Promise<RunningGateway> {
  return startGateway({ config: testGatewayConfig(dataDir, adminToken, more), notice: () => {}, logDestination: quietLog() })
}

/** A cookie session: the cookie to send and the CSRF token its changes need (docs/api.md, "Console sessions"). */
export interface Session {
  cookie: string
  csrf: string
}

/** Logs in at POST /api/v1/auth/login (the test fails when refused). */
export async function logIn(apiUrl: string, username: string, password: string): Promise<Session> {
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  expect(res.status).toBe(200)
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string
  return { cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken }
}

export interface ApiAnswer {
  status: number
  body: any
}

export interface CallOptions {
  token?: string
  cookie?: string
  csrf?: string
  body?: unknown
}

/** Calls `/api/v1${path}` on the gateway at `apiUrl()` as the token or session in `opts`. */
export async function callApi(apiUrl: string, method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.cookie) headers.cookie = opts.cookie
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${apiUrl}/api/v1${path}`, {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** An open GET /api/v1/events stream (docs/api.md, "Server-Sent Events"), its text so far. */
export interface EventStream {
  text(): string
  close(): Promise<void>
}

/** Opens the event stream with `query` and `headers` and waits for its `: connected` comment. */
export async function openEventStream(apiUrl: string, query: string, headers: Record<string, string>): Promise<EventStream> {
  const ac = new AbortController()
  const res = await fetch(`${apiUrl}/api/v1/events${query}`, { headers, signal: ac.signal })
  expect(res.status).toBe(200)
  let text = ''
  const reader = res.body!.getReader()
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      text += Buffer.from(value!).toString('utf8')
    }
  })()
  await waitFor(() => text.includes(': connected'), 10_000)
  return {
    text: () => text,
    close: async () => {
      ac.abort()
      await reading
    },
  }
}

/** A device to register through POST /api/v1/devices (docs/api.md): id, kind, name and any other field. */
export type NewDevice = { id: string; kind: string; name: string } & Record<string, unknown>

/**
 * Registers `device` through the API as `adminToken` and connects it over MQTT with the
 * credentials the API handed out, under its own id as client id (the broker accepts no other,
 * docs/mqtt.md "Client ids"). The caller ends the client.
 */
export async function connectNewDevice(
  gw: { apiUrl: string; mqttUrl: string },
  adminToken: string,
  device: NewDevice,
): Promise<mqtt.MqttClient> {
  const dev = await callApi(gw.apiUrl, 'POST', '/devices', { token: adminToken, body: device })
  expect(dev.status).toBe(201)
  return connectDevice(gw.mqttUrl, dev.body.credentials)
}

/** Connects over MQTT as a device with the credentials the API handed out, under its id (the username) as client id. */
export function connectDevice(mqttUrl: string, credentials: { username: string; password: string }): Promise<mqtt.MqttClient> {
  const { username, password } = credentials
  return mqtt.connectAsync(mqttUrl, { clientId: username, username, password, reconnectPeriod: 0 })
}

/**
 * Values held over a rule's min_duration_s (300 s, config/rules.yaml) in event time: seven readings
 * a minute apart ending now, so the last one (which raises an alert) is not late.
 */
export async function holdValues(client: mqtt.MqttClient, id: string, values: Record<string, number>): Promise<void> {
  const now = Date.now()
  for (let i = 6; i >= 0; i--) {
    const payload = { ts: new Date(now - i * 60_000).toISOString(), seq: now - i, values }
    await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify(payload), { qos: 1 })
  }
}

/** An answer read as text, with its JSON body when it has one (undefined for /metrics and other text). */
export interface TextAnswer {
  status: number
  text: string
  body: any
}

/** Requests `path` from the root of the gateway at `baseUrl` (/api/v1/..., /metrics) with a bearer token. */
export async function requestAs(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<TextAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  const json = (res.headers.get('content-type') ?? '').includes('application/json')
  return { status: res.status, text, body: json && text ? JSON.parse(text) : undefined }
}

/**
 * The config `iocgw start` makes of its environment (README.md "Configuration") and of `file`:
 * `dataDir`, every port free (0), a silent log and `adminToken`.
 */
export function envConfig(dataDir: string, adminToken: string, file?: string): GatewayConfig {
  return loadConfig({
    file,
    env: {
      IOC_DATA_DIR: dataDir,
      IOC_HTTP_PORT: '0',
      IOC_MQTT_PORT: '0',
      IOC_MQTT_WS_PORT: '0',
      IOC_LOG_LEVEL: 'silent',
      IOC_ADMIN_TOKEN: adminToken,
    },
  })
}
