import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { loadEdgeConfig } from '../../edge/config.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { ENV_KEYS } from '../../gateway/config/schema.ts'

// docker-compose.yml is checked without a Docker engine: it parses, every bind-mounted path exists,
// named volumes are declared, and ports and environment agree with README.md "Configuration", with the gateway's own
// configuration schema, and with the Grafana provisioning files.

interface Service {
  image?: string
  build?: string | { context: string; dockerfile?: string }
  environment?: Record<string, string>
  volumes?: string[]
  ports?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  network_mode?: string
  command?: string[] | string
  entrypoint?: string[]
}

const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}
const svc = (name: string) => {
  const s = compose.services[name]
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`)
  return s
}
/** `${VAR:?msg}` and `${VAR:-default}` as compose resolves them with VAR set to `value`. */
const interpolate = (v: string, env: Record<string, string>) =>
  v.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::[-?]([^}]*))?\}/g, (_, name: string, dflt?: string) => env[name] ?? dflt ?? '')

/** README.md "Configuration": the environment names and their defaults. */
const SPEC_ENV = [
  'IOC_DATA_DIR',
  'IOC_HTTP_PORT',
  'IOC_MQTT_PORT',
  'IOC_MQTT_WS_PORT',
  'IOC_INFLUX_URL',
  'IOC_ADMIN_TOKEN',
  'IOC_MODELS_DIR',
  'IOC_LOG_LEVEL',
]
const SPEC_PORTS = { IOC_HTTP_PORT: 8080, IOC_MQTT_PORT: 1883, IOC_MQTT_WS_PORT: 8083 }

describe('docker-compose.yml', () => {
  it('has InfluxDB 1.8, Grafana, the gateway built from the repo, and a simulated field', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['field', 'gateway', 'grafana', 'influxdb'])
    expect(svc('influxdb').image).toBe('influxdb:1.8')
    expect(svc('grafana').image).toMatch(/^grafana\/grafana:1[12]\./)
    expect(svc('gateway').build).toBe('.')
    expect(svc('field').image).toBe(svc('gateway').image)
    expect(svc('field').build).toBe('.')
  })

  it('mounts only paths that exist, and declares every named volume', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const [source, target] = v.split(':')
        expect(target, `${name}: ${v}`).toMatch(/^\//)
        if (source!.startsWith('.') || source!.startsWith('/')) {
          expect(existsSync(resolve(source!)), `${name} mounts ${source}, which does not exist`).toBe(true)
        } else {
          expect(Object.keys(compose.volumes), `${name} uses undeclared volume ${source}`).toContain(source)
        }
      }
    }
    expect(statSync('dashboards/build').isDirectory()).toBe(true)
  })

  it('builds the gateway from a Dockerfile on node:20 with npm ci and npm start, with a .dockerignore', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    expect(dockerfile).toMatch(/^FROM node:20\b/m)
    expect(dockerfile).toMatch(/^RUN npm ci\b/m)
    expect(dockerfile).toMatch(/^CMD \["npm", "start"\]$/m)
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n')
    for (const p of ['node_modules', 'data', '.git', '*.onnx', '.env']) expect(ignore).toContain(p)
    // What the image needs must not be ignored.
    for (const p of ['gateway', 'edge', 'config', 'dashboards', 'models', 'package.json']) expect(ignore).not.toContain(p)
  })

  it('gives the gateway the documented environment names that its configuration schema knows and accepts', () => {
    const env = svc('gateway').environment!
    const known = new Set(ENV_KEYS.map((k) => k.env))
    for (const name of Object.keys(env)) expect(known.has(name), `${name} is not in ENV_KEYS`).toBe(true)
    for (const name of SPEC_ENV) expect(Object.keys(env)).toContain(name)
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, interpolate(v, { IOC_ADMIN_TOKEN: 'a-compose-admin-token-0123' })]),
    )
    const config = loadConfig({ env: resolved, file: undefined })
    expect(config.influx.url).toBe('http://influxdb:8086/ioc')
    expect(config.server.dataDir).toBe('/data')
    // The admin token must come from outside: no default is baked into the file.
    expect(env.IOC_ADMIN_TOKEN).toMatch(/^\$\{IOC_ADMIN_TOKEN:\?/)
  })

  it('publishes the documented ports the gateway listens on, and InfluxDB and Grafana on theirs', () => {
    const env = svc('gateway').environment!
    const published = (svc('gateway').ports ?? []).map((p) => p.split(':').map(Number))
    for (const [name, port] of Object.entries(SPEC_PORTS)) {
      expect(Number(env[name]), name).toBe(port)
      expect(published).toContainEqual([port, port])
    }
    expect(svc('influxdb').ports).toContain('8086:8086')
    expect(svc('grafana').ports).toContain('3000:3000')
  })

  it('points the gateway, the data source and the provider at the same InfluxDB database and board folder', () => {
    const ds = parseYaml(readFileSync('dashboards/provisioning/datasources/influxdb.yaml', 'utf8')).datasources[0]
    const influxUrl = new URL(svc('gateway').environment!.IOC_INFLUX_URL!)
    expect(`${influxUrl.protocol}//${influxUrl.host}`).toBe(ds.url)
    expect(influxUrl.hostname).toBe('influxdb')
    expect(influxUrl.pathname.slice(1)).toBe(ds.jsonData.dbName)
    expect(svc('influxdb').environment!.INFLUXDB_DB).toBe(ds.jsonData.dbName)
    const provider = parseYaml(readFileSync('dashboards/provisioning/dashboards/ioc.yaml', 'utf8')).providers[0]
    const mounts = svc('grafana').volumes!
    expect(mounts).toContain(`./dashboards/build:${provider.options.path}:ro`)
    expect(mounts).toContain('./dashboards/provisioning/datasources:/etc/grafana/provisioning/datasources:ro')
    expect(mounts).toContain('./dashboards/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro')
    const home = svc('grafana').environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!
    expect(home.startsWith(`${provider.options.path}/`)).toBe(true)
    expect(existsSync(`dashboards/build/${home.slice(provider.options.path.length + 1)}`)).toBe(true)
  })

  it('checks health: gateway /healthz, InfluxDB /ping, Grafana /api/health, in dependency order', () => {
    expect(svc('gateway').healthcheck!.test.join(' ')).toContain('/healthz')
    expect(svc('influxdb').healthcheck!.test.join(' ')).toContain('/ping')
    expect(svc('grafana').healthcheck!.test.join(' ')).toContain('/api/health')
    expect(svc('gateway').depends_on).toEqual({ influxdb: { condition: 'service_healthy' } })
    expect(svc('grafana').depends_on).toEqual({ influxdb: { condition: 'service_healthy' } })
    expect(svc('field').depends_on).toEqual({ gateway: { condition: 'service_healthy' } })
  })

  it('runs the edge agent with config/edge.example.yaml, reaching the gateway through its network namespace', async () => {
    const field = svc('field')
    expect(field.network_mode).toBe('service:gateway')
    const script = (Array.isArray(field.command) ? field.command.join('\n') : String(field.command)).replaceAll('$$', '$')
    expect(script).toContain('iocgw.js edge --config config/edge.example.yaml')
    // The script is valid POSIX shell.
    execFileSync('sh', ['-n', '-c', script])
    const edge = await loadEdgeConfig('config/edge.example.yaml', { IOC_DEVICE_SECRET: 'x'.repeat(32) })
    const url = new URL(edge.mqtt.url)
    expect(url.hostname).toBe('127.0.0.1')
    expect(Number(url.port || 1883)).toBe(Number(svc('gateway').environment!.IOC_MQTT_PORT))
    expect(script).toContain(`--id ${edge.device.id} `)
    expect(new URL(field.environment!.IOC_API_URL!).port).toBe(svc('gateway').environment!.IOC_HTTP_PORT)
  })
})
