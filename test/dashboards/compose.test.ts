import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, posix, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { loadEdgeConfig } from '../../edge/config.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { ENV_KEYS } from '../../gateway/config/schema.ts'
import { requireCommand, tempDir } from '../support/services.ts'

// docker-compose.yml is checked without a Docker engine: it parses, every bind-mounted path exists,
// named volumes are declared, and ports and environment agree with README.md "Configuration", with the gateway's own
// configuration schema, and with the Grafana provisioning files.

interface Service {
  profiles?: string[]
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

// `merge`: the cluster nodes share one definition through a YAML merge key (`<<: *node`), as compose reads it.
const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
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
    const defaults = Object.entries(compose.services).filter(([, s]) => s.profiles === undefined)
    expect(defaults.map(([name]) => name).sort()).toEqual(['field', 'gateway', 'grafana', 'influxdb'])
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

/** The lines `server <name> <host>:<port> ...` of one backend of config/haproxy.cfg. */
function haproxyServers(cfg: string, backend: string): Array<{ name: string; host: string; port: number; line: string }> {
  const block = cfg.split(/^backend /m).find((b) => b.startsWith(`${backend}\n`))
  if (!block) throw new Error(`config/haproxy.cfg has no backend ${backend}`)
  return [...block.matchAll(/^\s+server (\S+) ([^:\s]+):(\d+)(.*)$/gm)].map((m) => ({
    name: m[1]!,
    host: m[2]!,
    port: Number(m[3]),
    line: m[0],
  }))
}

describe('docker-compose.yml, profile cluster (docs/operations.md "Several nodes")', () => {
  const cluster = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster'))
  const nodes = cluster.filter(([, s]) => s.environment?.IOC_NODE_ID !== undefined)
  const cfg = readFileSync('config/haproxy.cfg', 'utf8')

  it('runs HAProxy, two gateway nodes, PostgreSQL 15 and Redis, beside the default InfluxDB and Grafana', () => {
    expect(cluster.map(([name]) => name).sort()).toEqual(['haproxy', 'node1', 'node2', 'postgres', 'redis'])
    expect(svc('haproxy').image).toMatch(/^haproxy:2\./)
    expect(svc('postgres').image).toBe('postgres:15')
    expect(svc('redis').image).toMatch(/^redis:/)
    expect(svc('haproxy').volumes).toContain('./config/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro')
  })

  it('gives every node a distinct IOC_NODE_ID, the shared PostgreSQL, Redis and InfluxDB, and the cluster config', () => {
    expect(nodes.length).toBe(2)
    const env = (s: Service) =>
      loadConfig({
        file: 'config/cluster.yaml',
        env: Object.fromEntries(
          Object.entries(s.environment!)
            .filter(([k]) => k !== 'IOC_CONFIG')
            .map(([k, v]) => [k, interpolate(v, { IOC_ADMIN_TOKEN: 'a-compose-admin-token-0123', POSTGRES_PASSWORD: 'pw' })]),
        ),
      })
    const configs = nodes.map(([, s]) => env(s))
    expect(new Set(configs.map((c) => c.server.nodeId)).size).toBe(nodes.length)
    const pg = svc('postgres').environment!
    for (const [[name, s], c] of nodes.map((n, i) => [n, configs[i]!] as const)) {
      expect(c.server.nodeId, name).toBe(name)
      expect(s.build).toBe('.')
      expect(s.image).toBe(svc('gateway').image)
      expect(s.environment!.IOC_CONFIG).toBe('/app/config/cluster.yaml')
      expect(s.volumes).toContain('./config/cluster.yaml:/app/config/cluster.yaml:ro')
      // Behind HAProxy only: the PROXY header on MQTT, X-Forwarded-For on HTTP; no port of its own.
      expect(c.mqtt.proxyProtocol).toBe(true)
      expect(c.http.trustProxy).toBe(true)
      expect(s.ports).toBeUndefined()
      const url = new URL(c.postgres.url!)
      expect([url.hostname, url.port, url.pathname.slice(1), url.username]).toEqual(['postgres', '5432', pg.POSTGRES_DB, pg.POSTGRES_USER])
      expect(new URL(c.redis.url!).hostname).toBe('redis')
      expect(c.influx.url).toBe(svc('gateway').environment!.IOC_INFLUX_URL)
      expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(['influxdb', 'postgres', 'redis'])
      expect(s.environment!.IOC_ADMIN_TOKEN).toMatch(/^\$\{IOC_ADMIN_TOKEN:\?/)
    }
    // Each node keeps its own data directory.
    const dataVolumes = nodes.map(([, s]) => s.volumes!.find((v) => v.endsWith(':/data')))
    expect(new Set(dataVolumes).size).toBe(nodes.length)
    // ... and hashes with the one server key, a file on a volume they share (docs/operations.md
    // "Server key"): nodes started together would otherwise each make their own, and all but the
    // first refuse to start.
    const keyFiles = configs.map((c) => c.server.keyFile)
    expect(new Set(keyFiles).size).toBe(1)
    const keyDir = posix.dirname(keyFiles[0]!)
    const keyVolumes = nodes.map(([, s]) => s.volumes!.find((v) => v.endsWith(`:${keyDir}`)))
    expect(new Set(keyVolumes).size, String(keyVolumes)).toBe(1)
    expect(Object.keys(compose.volumes)).toContain(keyVolumes[0]!.split(':')[0])
    // The image makes that directory the unprivileged user's, so a new named volume starts writable.
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(new RegExp(`chown -R node:node [^\\n]*${keyDir}`))
  })

  it('points every HAProxy backend at every node, with PROXY v2 on MQTT and /readyz checks, on the published ports', () => {
    const names = nodes.map(([name]) => name).sort()
    const expectations = [
      { backend: 'mqtt_nodes', port: 1883, proxy: true },
      { backend: 'mqtts_nodes', port: 8883, proxy: true },
      { backend: 'mqtt_ws_nodes', port: 8083, proxy: false },
      { backend: 'api_nodes', port: 8080, proxy: false },
    ]
    for (const { backend, port, proxy } of expectations) {
      const servers = haproxyServers(cfg, backend)
      expect(servers.map((s) => s.name).sort(), backend).toEqual(names)
      for (const s of servers) {
        expect(s.host, s.line).toBe(s.name)
        expect(s.port, s.line).toBe(port)
        expect(s.line.includes(' send-proxy-v2'), s.line).toBe(proxy)
        // MQTT backends are checked on the API port: a node must be ready, not merely listening.
        expect(s.line, s.line).toMatch(port === 8080 ? / check\b/ : / check port 8080\b/)
      }
      const block = cfg.split(/^backend /m).find((b) => b.startsWith(`${backend}\n`))!
      expect(block).toMatch(/^\s+balance leastconn$/m)
      expect(block).toMatch(/^\s+option httpchk GET \/readyz$/m)
      expect(svc('haproxy').ports).toContain(`${port}:${port}`)
    }
    expect(cfg.split(/^frontend /m).find((b) => b.startsWith('api\n'))).toMatch(/^\s+option forwardfor$/m)
    const depends = Object.keys(svc('haproxy').depends_on ?? {}).sort()
    expect(depends).toEqual(names)
  })

  it.skipIf(!requireCommand('haproxy'))('is a configuration HAProxy accepts, with the node names resolved too', () => {
    const check = (file: string) => spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' })
    const asIs = check('config/haproxy.cfg')
    expect(asIs.status, asIs.stderr + asIs.stdout).toBe(0)
    // Outside Docker the node names do not resolve (those servers start disabled, as the warnings
    // say): a copy naming loopback instead must pass without a single warning.
    const dir = tempDir('iocgw-haproxy-cfg-')
    try {
      const copy = join(dir.path, 'haproxy.cfg')
      const names = nodes.map(([name]) => name).join('|')
      writeFileSync(copy, cfg.replace(new RegExp(`(server (?:${names}) )(?:${names}):`, 'g'), '$1127.0.0.1:'))
      const resolved = check(copy)
      expect(resolved.status, resolved.stderr + resolved.stdout).toBe(0)
      expect(resolved.stderr + resolved.stdout).not.toMatch(/WARNING|ALERT/)
    } finally {
      dir.remove()
    }
  })
})
