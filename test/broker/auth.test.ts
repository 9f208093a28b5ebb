// Authentication and revocation with mqtt.js on real sockets (TCP and WebSocket).
import { createServer } from 'node:net'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBroker } from '../../gateway/broker/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { waitFor } from '../support/services.ts'
import { actor, closed, connackCode, startBroker, type Harness } from './harness.ts'

let h: Harness
const WRONG = 'wrong-secret-7f3a9c'

beforeAll(async () => {
  // Refusals are logged as a summary per interval: a short one so the log test sees it.
  h = await startBroker({ refusalLogIntervalMs: 100 })
})
afterAll(async () => {
  await h?.stop()
})

describe('MQTT authentication (mqtt.js)', () => {
  it('accepts a device with its credentials', async () => {
    const secret = await h.addDevice('auth-ok-01')
    expect(await connackCode(h.url, 'auth-ok-01', secret)).toBe(0)
    expect(await h.counter('mqtt_connects_total', { kind: 'device' })).toBeGreaterThanOrEqual(1)
  })

  it('refuses a wrong secret and an unknown device with 4 (bad username or password)', async () => {
    await h.addDevice('auth-wrong-01')
    h.secrets.push(WRONG)
    expect(await connackCode(h.url, 'auth-wrong-01', WRONG)).toBe(4)
    expect(await connackCode(h.url, 'no-such-device', WRONG)).toBe(4)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'bad_secret' })).toBe(1)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'unknown_device' })).toBe(1)
  })

  it('refuses missing credentials with 4', async () => {
    expect(await connackCode(h.url, 'auth-ok-01', '')).toBe(4)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'missing_credentials' })).toBe(1)
  })

  it('refuses a disabled device with 5 (not authorized), even with the right secret', async () => {
    const secret = await h.addDevice('auth-disabled-01')
    await h.registry.updateDevice('auth-disabled-01', { state: 'disabled' }, actor)
    expect(await connackCode(h.url, 'auth-disabled-01', secret)).toBe(5)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'device_disabled' })).toBe(1)
  })

  it('accepts an integration token and refuses a bad one with 4', async () => {
    const token = await h.addToken('viewer')
    expect(await connackCode(h.url, 'token', token)).toBe(0)
    expect(await connackCode(h.url, 'token', 'iocgw_not-a-real-token')).toBe(4)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'bad_token' })).toBe(1)
  })

  it('refuses a will on a topic the device may not publish with 5', async () => {
    const secret = await h.addDevice('auth-will-01')
    await h.addDevice('auth-will-02')
    const code = await connackCode(h.url, 'auth-will-01', secret, {
      will: { topic: 'devices/auth-will-02/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    })
    expect(code).toBe(5)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'will_not_permitted' })).toBe(1)
  })

  it("does not let a device take over another principal's client id (2, identifier rejected)", async () => {
    const sa = await h.addDevice('auth-cid-01')
    const sb = await h.addDevice('auth-cid-02')
    const b = await h.connect('auth-cid-02', sb, { clientId: 'auth-cid-02:main' })
    expect(await connackCode(h.url, 'auth-cid-01', sa, { clientId: 'auth-cid-02:main' })).toBe(2)
    expect(b.connected).toBe(true)
    // The same device reconnecting with its own client id takes the session over (MQTT-3.1.4-2).
    const bClosed = closed(b)
    const b2 = await h.connect('auth-cid-02', sb, { clientId: 'auth-cid-02:main' })
    await bClosed
    expect(b2.connected).toBe(true)
  })

  it('accepts a device over WebSocket at /mqtt and refuses a wrong secret there', async () => {
    const secret = await h.addDevice('auth-ws-01')
    const c = await mqtt.connectAsync(h.wsUrl, {
      username: 'auth-ws-01',
      password: secret,
      clientId: 'auth-ws-01',
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    expect(c.connected).toBe(true)
    await c.publishAsync('devices/auth-ws-01/telemetry', '{"values":{"water_level":1.2}}', { qos: 1 })
    await c.endAsync()
    expect(await connackCode(h.wsUrl, 'auth-ws-01', WRONG)).toBe(4)
  })
})

describe('revocation closes live sessions at once', () => {
  it('rotate-secret: the open session is closed, the old secret refused, the new one accepted', async () => {
    const old = await h.addDevice('rev-rotate-01')
    const c = await h.connect('rev-rotate-01', old)
    const gone = closed(c)
    const { secret: fresh } = await h.registry.rotateSecret('rev-rotate-01', actor)
    h.secrets.push(fresh)
    await gone
    expect(await connackCode(h.url, 'rev-rotate-01', old)).toBe(4)
    expect(await connackCode(h.url, 'rev-rotate-01', fresh)).toBe(0)
    expect(await h.counter('mqtt_revocation_kicks_total', { reason: 'secret_rotated' })).toBe(1)
  })

  it('disable: every open session of the device is closed and it cannot come back', async () => {
    const s = await h.addDevice('rev-disable-01')
    const c1 = await h.connect('rev-disable-01', s)
    const c2 = await h.connect('rev-disable-01', s)
    const gone = Promise.all([closed(c1), closed(c2)])
    await h.registry.updateDevice('rev-disable-01', { state: 'disabled' }, actor)
    await gone
    expect(await connackCode(h.url, 'rev-disable-01', s)).toBe(5)
  })

  it('remove: the open session is closed and it cannot come back', async () => {
    const s = await h.addDevice('rev-remove-01')
    const c = await h.connect('rev-remove-01', s)
    const gone = closed(c)
    await h.registry.removeDevice('rev-remove-01', actor)
    await gone
    expect(await connackCode(h.url, 'rev-remove-01', s)).toBe(5)
  })

  it('leaves other devices connected', async () => {
    const sa = await h.addDevice('rev-other-01')
    const sb = await h.addDevice('rev-other-02')
    const a = await h.connect('rev-other-01', sa)
    const b = await h.connect('rev-other-02', sb)
    const gone = closed(a)
    await h.registry.rotateSecret('rev-other-01', actor)
    await gone
    await b.publishAsync('devices/rev-other-02/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
    expect(b.connected).toBe(true)
  })
})

describe('listening', () => {
  // The WebSocket one also without an unhandled error event ending the process (ws repeats its server's errors).
  it.each([
    { listener: 'MQTT', ports: (taken: number) => ({ port: taken, wsPort: 0 }) },
    { listener: 'MQTT WebSocket', ports: (taken: number) => ({ port: 0, wsPort: taken }) },
  ])('says in one line that the $listener port is in use', async ({ listener, ports }) => {
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const taken = (blocker.address() as { port: number }).port
    const other = await createBroker({
      registry: h.registry,
      metrics: new Metrics({ defaults: false }),
      logger: createLogger('silent'),
      routes: {},
      config: { host: '127.0.0.1', ...ports(taken), wsPath: '/mqtt' },
    })
    await expect(other.listen()).rejects.toThrow(new RegExp(`^${listener} port ${taken} is already in use$`))
    expect(other.ready()).toBe(false)
    await other.close()
    blocker.close()
  })

  it('reports connected clients and readiness', async () => {
    const s = await h.addDevice('count-01')
    const before = h.broker.connectedCount()
    const c = await h.connect('count-01', s)
    await waitFor(() => h.broker.connectedCount() === before + 1)
    expect(await h.counter('mqtt_connected_clients')).toBe(before + 1)
    expect(h.broker.ready()).toBe(true)
    await c.endAsync()
    await waitFor(() => h.broker.connectedCount() === before)
    await waitFor(async () => (await h.counter('mqtt_connected_clients')) === before)
  })
})

describe('integration token sessions', () => {
  it('closes the live sessions of a deleted token on request, and the token is then refused', async () => {
    const { token, secret } = await h.registry.createToken({ role: 'viewer', name: 'national reporting' }, actor)
    h.secrets.push(secret)
    const c = await h.connect('token', secret)
    const gone = closed(c)
    await h.registry.deleteToken(token.id, actor)
    expect(h.broker.closeTokenSessions(token.id)).toBe(1)
    await gone
    expect(await connackCode(h.url, 'token', secret)).toBe(4)
  })
})

describe('logs', () => {
  it('never contain a secret or token', async () => {
    expect(h.lines.length).toBeGreaterThan(10)
    await waitFor(() => h.lines.some((l) => l.includes('mqtt_connect_refusals')))
    for (const secret of h.secrets) {
      expect(h.lines.filter((l) => l.includes(secret))).toEqual([])
    }
  })
})
