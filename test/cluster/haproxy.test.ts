// Two real gateways behind a real HAProxy, configured as docs/operations.md "HAProxy in front" says:
// MQTT in TCP mode with PROXY v2 (`mqtt.proxyProtocol`), the API in HTTP mode with X-Forwarded-For
// (`http.trustProxy`), both checked on /readyz. Clients connect from 127.0.0.x addresses of their
// own; HAProxy connects to the gateways from 127.0.0.1.
import { cpSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { httpFrontend, startHaproxy, tcpFrontend, type RunningHaproxy } from '../support/haproxy.ts'
import { mqttConnect } from '../support/proxied-client.ts'
import { freePort, requireCommand, tempDir, waitFor } from '../support/services.ts'

const HAVE = requireCommand('haproxy')
const ADMIN = 'haproxy-cluster-admin-token-0123'
const DEVICE = 'cluster-01'

/** GET `path` through `port` from the loopback address `from`; the status code. */
function getFrom(port: number, from: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, localAddress: from, headers: { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe.skipIf(!HAVE)('gateways behind HAProxy', () => {
  const dirs = [tempDir('iocgw-node-a-'), tempDir('iocgw-node-b-'), tempDir('iocgw-seed-'), tempDir('iocgw-no-models-')]
  const [dirA, dirB, seed, noModels] = dirs as [
    ReturnType<typeof tempDir>,
    ReturnType<typeof tempDir>,
    ReturnType<typeof tempDir>,
    ReturnType<typeof tempDir>,
  ]
  const nodes: { a?: RunningGateway; b?: RunningGateway } = {}
  const open = new Set<RunningGateway>()
  let haproxy: RunningHaproxy
  let secret = ''
  const front = { mqtt: 0, api: 0, mqtt2: 0, api2: 0 }

  async function node(name: string, dataDir: string): Promise<RunningGateway> {
    const file = join(dataDir, '..', `${name}.yaml`)
    writeFileSync(
      file,
      stringify({
        server: { dataDir, logLevel: 'silent', nodeId: name },
        http: { host: '127.0.0.1', port: 0, trustProxy: true, authFailuresPerMinute: 3 },
        mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, proxyProtocol: true, maxConnectionsPerAddress: 2 },
        models: { dir: noModels.path },
        auth: { adminToken: ADMIN },
      }),
    )
    const gw = await startGateway({ config: loadConfig({ file, env: {} }), notice: () => {} })
    open.add(gw)
    return gw
  }

  beforeAll(async () => {
    // One device known to both nodes (each has its own registry until the shared PostgreSQL one).
    const registry = openRegistry(seed.path)
    secret = (await registry.createDevice({ id: DEVICE, kind: 'water_level', name: 'Trạm cụm' }, { type: 'system', id: 'test' })).secret
    await registry.close()
    cpSync(seed.path, dirA.path, { recursive: true })
    cpSync(seed.path, dirB.path, { recursive: true })
    nodes.a = await node('node-a', dirA.path)
    nodes.b = await node('node-b', dirB.path)
    const { a, b } = nodes
    for (const k of Object.keys(front) as Array<keyof typeof front>) front[k] = await freePort()
    const mqttOf = (g: RunningGateway, name: string) => ({ name, host: '127.0.0.1', port: g.ports.mqtt, checkPort: g.ports.http })
    const apiOf = (g: RunningGateway, name: string) => ({ name, host: '127.0.0.1', port: g.ports.http })
    haproxy = await startHaproxy(
      [
        tcpFrontend({ name: 'mqtt', port: front.mqtt, backends: [mqttOf(a, 'node-a')] }),
        httpFrontend({ name: 'api', port: front.api, backends: [apiOf(a, 'node-a')] }),
        tcpFrontend({ name: 'mqtt2', port: front.mqtt2, backends: [mqttOf(a, 'node-a'), mqttOf(b, 'node-b')] }),
        httpFrontend({ name: 'api2', port: front.api2, backends: [apiOf(a, 'node-a'), apiOf(b, 'node-b')] }),
      ],
      Object.values(front),
    )
    await waitFor(async () => (await haproxy.serverStatus('mqtt2_nodes', 'node-b')) === 'UP', 30_000, 100)
  }, 120_000)

  afterAll(async () => {
    await haproxy?.kill()
    for (const g of open) await g.close()
    for (const d of dirs) d.remove()
  })

  it('MQTT: the per-address cap and the failed-login limit count each real client', async () => {
    const a = nodes.a!
    const one = await mqttConnect({ port: front.mqtt, from: '127.0.0.2', username: DEVICE, password: secret })
    const two = await mqttConnect({ port: front.mqtt, from: '127.0.0.2', username: DEVICE, password: secret })
    const three = await mqttConnect({ port: front.mqtt, from: '127.0.0.2', username: DEVICE, password: secret })
    expect([one.connack, two.connack, three.connack]).toEqual([0, 0, undefined])
    const other = await mqttConnect({ port: front.mqtt, from: '127.0.0.3', username: DEVICE, password: secret })
    expect(other.connack).toBe(0)
    expect(a.broker.socketStats().addresses).toBeGreaterThanOrEqual(2)
    for (const c of [one, two, other]) c.socket.destroy()

    for (let i = 0; i < 3; i++) {
      expect((await mqttConnect({ port: front.mqtt, from: '127.0.0.6', username: DEVICE, password: 'wrong' })).connack).toBe(4)
    }
    expect((await mqttConnect({ port: front.mqtt, from: '127.0.0.6', username: DEVICE, password: secret })).connack).toBe(5)
    const fine = await mqttConnect({ port: front.mqtt, from: '127.0.0.7', username: DEVICE, password: secret })
    expect(fine.connack).toBe(0)
    fine.socket.destroy()
  })

  it('MQTT: a connection straight to the node, without a PROXY header, is closed and counted', async () => {
    const a = nodes.a!
    const direct = await mqttConnect({ port: a.ports.mqtt, username: DEVICE, password: secret })
    expect(direct.connack).toBeUndefined()
    const text = await a.metrics.registry.metrics()
    expect(text).toMatch(/^iocgw_mqtt_proxy_header_refused_total\{reason="missing"\} 1$/m)
  })

  it('HTTP: the failed-authentication limit counts each real client (X-Forwarded-For)', async () => {
    for (let i = 0; i < 3; i++) expect(await getFrom(front.api, '127.0.0.4', '/api/v1/devices', 'wrong-token')).toBe(401)
    expect(await getFrom(front.api, '127.0.0.4', '/api/v1/devices', ADMIN)).toBe(429)
    expect(await getFrom(front.api, '127.0.0.5', '/api/v1/devices', ADMIN)).toBe(200)
  })

  it('two nodes: a stopped node is taken out by the health check and its clients reconnect to the other', async () => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${front.mqtt2}`, {
      username: DEVICE,
      password: secret,
      clientId: `${DEVICE}:failover`,
      protocolVersion: 4,
      reconnectPeriod: 200,
      connectTimeout: 5000,
    })
    client.on('error', () => {})
    try {
      const { a, b } = nodes as Required<typeof nodes>
      const first = await waitFor(() => (a.broker.connectedCount() === 1 ? a : b.broker.connectedCount() === 1 ? b : undefined), 15_000)
      const [stopped, other, name] = first === a ? [a, b, 'node-a'] : [b, a, 'node-b']
      await stopped.close()
      open.delete(stopped)
      await waitFor(async () => (await haproxy.serverStatus('mqtt2_nodes', name)) === 'DOWN', 30_000, 100)
      await waitFor(async () => (await haproxy.serverStatus('api2_nodes', name)) === 'DOWN', 30_000, 100)
      await waitFor(() => other.broker.connectedCount() === 1 && client.connected, 30_000, 100)
      // The API answers from the node still up.
      for (let i = 0; i < 3; i++) expect(await getFrom(front.api2, '127.0.0.9', '/healthz', ADMIN)).toBe(200)
    } finally {
      await client.endAsync(true)
    }
  }, 90_000)
})
