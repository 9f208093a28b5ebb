// Conformance with docs/, the contract of record users see. The routes are read from the role table
// of docs/api.md, the commands from docs/cli.md, the environment from README.md "Configuration";
// the checks go both ways: what the docs promise exists, and what the gateway offers is documented.
// When the code drifts from docs/ (a route, command, environment name, script or topic goes
// missing) a check here fails and names what is missing. The gateway is the real one, started in
// process by `startGateway` exactly as `iocgw start` wires it.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { ENV_KEYS } from '../../gateway/config/schema.ts'
import { BIN, ROOT } from '../support/gateway-process.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'

const run = promisify(execFile)
const doc = (name: string) => (existsSync(join(ROOT, name)) ? readFileSync(join(ROOT, name), 'utf8') : '')

const ROLE_COLUMNS = ['admin', 'technician', 'officer', 'viewer', 'public'] as const

/**
 * The routes of the role table of docs/api.md "Authentication and roles": each row names routes as
 * `METHOD /path` (`PATCH\|DELETE /devices/:id` for two methods), then a ✓ per role that may call
 * them (admin, technician, officer, viewer, no token); "(unversioned)" rows are outside /api/v1.
 */
function documentedRoutes(): Array<{ method: string; path: string; roles: string[]; unversioned: boolean }> {
  const out: Array<{ method: string; path: string; roles: string[]; unversioned: boolean }> = []
  for (const line of doc('docs/api.md').split('\n')) {
    if (!line.startsWith('| `')) continue
    // Split on the table's bars, not on the escaped ones inside a route (`PATCH\|DELETE`).
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim())
    if (cells.length !== 1 + ROLE_COLUMNS.length) continue
    const roles = ROLE_COLUMNS.filter((_r, i) => cells[i + 1] === '✓')
    for (const [, spec] of cells[0]!.matchAll(/`([^`]+)`/g)) {
      const m = /^([A-Z]+(?:\\\|[A-Z]+)*) (\/\S*)$/.exec(spec!)
      if (!m) continue
      for (const method of m[1]!.split('\\|'))
        out.push({ method, path: m[2]!, roles: [...roles], unversioned: cells[0]!.includes('(unversioned)') })
    }
  }
  return out
}
const DOC_ROUTE_ROWS = documentedRoutes()
const DOC_ROUTES = {
  api: DOC_ROUTE_ROWS.filter((r) => !r.unversioned).map((r) => [r.method, r.path] as const),
  unversioned: DOC_ROUTE_ROWS.filter((r) => r.unversioned).map((r) => [r.method, r.path] as const),
}
const DOC_API_ROUTES = DOC_ROUTES.api
// /docs serves the document itself and is checked by fetching it.
const DOC_UNVERSIONED_ROUTES = DOC_ROUTES.unversioned.filter(([, p]) => p !== '/docs')

// docs/cli.md: group → subcommands (an empty list: the command itself), with required options.
const DOC_CLI: ReadonlyArray<{ path: string[]; options?: string[] }> = [
  { path: ['start'] },
  { path: ['edge'], options: ['--config'] },
  { path: ['device', 'add'] },
  { path: ['device', 'list'] },
  { path: ['device', 'show'] },
  { path: ['device', 'rotate-secret'] },
  { path: ['device', 'remove'] },
  { path: ['token', 'create'], options: ['--role'] },
  { path: ['dashboards', 'build'] },
  { path: ['dashboards', 'push'] },
  { path: ['models', 'fetch'], options: ['--dir', '--only', '--from'] },
  { path: ['models', 'verify'] },
]

// README.md "Configuration": the environment names of the configuration keys.
const DOC_ENV = [
  'IOC_DATA_DIR',
  'IOC_HTTP_PORT',
  'IOC_MQTT_PORT',
  'IOC_MQTT_WS_PORT',
  'IOC_INFLUX_URL',
  'IOC_NODE_ID',
  'IOC_POSTGRES_URL',
  'IOC_REDIS_URL',
  'IOC_ADMIN_TOKEN',
  'IOC_MODELS_DIR',
  'IOC_LOG_LEVEL',
] as const

// README.md "Layout".
const DOC_DIRS = ['gateway', 'edge', 'dashboards', 'models', 'config', 'test', 'bench'] as const
const DOC_FILES = ['package.json', 'tsconfig.json', 'docker-compose.yml', 'README.md', '.ci/run', '.npmrc'] as const

const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

async function cli(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  return stdout
}

/** Subcommand names listed under "Commands:" in a commander help text. */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? ''
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string)
}

describe('README.md: repository layout, scripts and configuration names', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>
    bin?: Record<string, string> | string
  }

  it('has the layout directories and files of README.md', () => {
    const missing = [
      ...DOC_DIRS.filter((d) => !existsSync(join(ROOT, d)) || !statSync(join(ROOT, d)).isDirectory()),
      ...DOC_FILES.filter((f) => !existsSync(join(ROOT, f))),
    ]
    expect(missing, 'layout entries of README.md missing').toEqual([])
    const readme = doc('README.md')
    expect(
      [...DOC_DIRS.map((d) => `${d}/`), ...DOC_FILES].filter((e) => !readme.includes(e)),
      'not in README.md',
    ).toEqual([])
  })

  it('package.json has the scripts start, test, bench, demo and the bin iocgw', () => {
    const missing = ['start', 'test', 'bench', 'demo'].filter((s) => !pkg.scripts?.[s])
    expect(missing, 'npm scripts missing').toEqual([])
    expect(typeof pkg.bin === 'object' ? pkg.bin.iocgw : undefined).toBeTruthy()
    expect(existsSync(join(ROOT, (pkg.bin as Record<string, string>).iocgw as string))).toBe(true)
  })

  it('every `iocgw <command>` that a package script runs is a command the CLI offers', async () => {
    const offered = commandsOf(await cli(['--help']))
    const used = Object.entries(pkg.scripts ?? {})
      .map(([name, cmd]) => [name, /iocgw\.js\s+([a-z][a-z-]*)/.exec(cmd)?.[1]] as const)
      .filter((e): e is readonly [string, string] => e[1] !== undefined)
    const broken = used.filter(([, c]) => !offered.includes(c)).map(([n, c]) => `npm run ${n} → iocgw ${c}`)
    expect(broken, 'scripts calling a CLI command that does not exist').toEqual([])
  })

  it('.npmrc skips the onnxruntime-node binary download', () => {
    const lines = readFileSync(join(ROOT, '.npmrc'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
    expect(lines).toContain('onnxruntime-node-install=skip')
  })

  it('every environment name of README.md is read by the configuration, and every one it reads is documented', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const known = ENV_KEYS.map((k) => k.env)
    expect(
      DOC_ENV.filter((e) => !known.includes(e)),
      'not in gateway/config/schema.ts ENV_KEYS',
    ).toEqual([])
    expect(
      [...DOC_ENV, ...known].filter((e) => !readme.includes(`\`${e}\``)),
      'not documented in README.md',
    ).toEqual([])
  })

  it('the documented defaults hold: ./data, 8080, 1883, 8083 at /mqtt', () => {
    const c = loadConfig({ file: undefined, env: {}, flags: {} })
    expect(c.server.dataDir).toBe('./data')
    expect(c.http.port).toBe(8080)
    expect(c.mqtt.port).toBe(1883)
    expect(c.mqtt.wsPort).toBe(8083)
    expect(c.mqtt.wsPath).toBe('/mqtt')
  })
})

describe('docs/ describes the whole contract', () => {
  it('the role table of docs/api.md holds the routes users rely on', () => {
    // A parse that finds nothing must not pass as "nothing missing".
    expect(DOC_API_ROUTES).toEqual(
      expect.arrayContaining([
        ['POST', '/devices'],
        ['PATCH', '/devices/:id'],
        ['DELETE', '/devices/:id'],
        ['GET', '/events'],
      ]),
    )
    expect(DOC_ROUTES.unversioned).toEqual(
      expect.arrayContaining([
        ['GET', '/healthz'],
        ['GET', '/readyz'],
        ['GET', '/metrics'],
        ['GET', '/docs'],
      ]),
    )
    const text = doc('docs/api.md')
    const missing = [...DOC_API_ROUTES, ...DOC_UNVERSIONED_ROUTES]
      .filter(
        ([method, path]) =>
          !new RegExp(`${method}[^\\n]*${path.replace(/[/:.-]/g, (c) => `\\${c}`)}(?![a-z/-])`).test(text.replaceAll('`', '')),
      )
      .map(([m, p]) => `${m} ${p}`)
    expect(missing).toEqual([])
  })

  it('docs/cli.md documents every command', () => {
    const text = doc('docs/cli.md')
    expect(DOC_CLI.map((c) => c.path.join(' ')).filter((c) => !text.includes(c))).toEqual([])
  })

  it('docs/mqtt.md documents every topic and CONNACK answer', () => {
    const text = doc('docs/mqtt.md')
    const topics = [
      'devices/{id}/telemetry',
      'devices/{id}/status',
      'devices/{id}/frames',
      'devices/{id}/frames/{epoch ms}',
      'devices/{id}/config',
      'devices/{id}/cmd',
      'devices/{id}/cmd/ack',
      'alerts/{kind}/{station or device}',
      'alerts/#',
      'devices/+/telemetry',
      'devices/+/status',
    ]
    expect(topics.filter((t) => !text.includes(t))).toEqual([])
    expect(text).toMatch(/bad user ?name or password/)
    expect(text).toContain('not authorized')
  })
})

describe('the iocgw CLI offers every command of docs/cli.md, and docs/cli.md names every command it offers', () => {
  it('every command and subcommand of `iocgw --help` is in docs/cli.md', async () => {
    const text = doc('docs/cli.md')
    const missing: string[] = []
    for (const group of commandsOf(await cli(['--help'])).filter((c) => c !== 'help')) {
      const subs = commandsOf(await cli([group, '--help'])).filter((c) => c !== 'help')
      for (const c of subs.length ? subs.map((s) => `${group} ${s}`) : [group])
        if (!text.includes(`iocgw ${c}`) && !text.includes(`\`${c}`)) missing.push(c)
    }
    expect(missing, 'iocgw commands missing from docs/cli.md').toEqual([])
  })

  it.each(DOC_CLI.map((c) => [c.path.join(' '), c] as const))('iocgw %s', async (_name, spec) => {
    // The parent's help must list the command, and the command's own help must parse.
    const parent = spec.path.slice(0, -1)
    const listed = commandsOf(await cli([...parent, '--help']))
    expect(listed, `\`iocgw ${parent.join(' ')} --help\` lists`).toContain(spec.path[spec.path.length - 1])
    const help = await cli([...spec.path, '--help'])
    expect(help).toContain(`Usage: iocgw ${spec.path.join(' ')}`)
    for (const opt of spec.options ?? []) expect(help, `iocgw ${spec.path.join(' ')} ${opt}`).toContain(opt)
  })
})

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
