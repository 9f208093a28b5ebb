// Client ids belong to the identity that uses them (docs/mqtt.md "Client ids"): a device uses
// `{id}` or `{id}:{suffix}`, a token `{token id}` or `{token id}:{suffix}`, anyone an empty id
// (the broker assigns one, MQTT-3.1.3-6). Anything else is CONNACK 2 (identifier rejected,
// MQTT-3.2.2 table 3.1), refused before aedes touches the session kept under that id: its
// subscriptions, its queued QoS 1 messages, its will. Real aedes, real mqtt.js clients.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../support/services.ts'
import { closed, connackCode, startBroker, type Harness } from './harness.ts'
import { connectBytes, rawClient, rawExchange } from './raw.ts'

let h: Harness

beforeAll(async () => {
  h = await startBroker({ maxPersistentSessionsPerIdentity: 2 })
})
afterAll(async () => {
  await h?.stop()
})

/** Connects and records every message from the first packet on (queued ones arrive at once). */
function session(
  username: string,
  password: string,
  clientId: string,
  o: IClientOptions = {},
): Promise<{ client: MqttClient; got: string[]; sessionPresent: boolean }> {
  const got: string[] = []
  const client = mqtt.connect(h.url, {
    username,
    password,
    clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...o,
  })
  client.on('message', (_topic, payload) => got.push(payload.toString()))
  return new Promise((resolve, reject) => {
    client.once('connect', (ack) => resolve({ client, got, sessionPresent: ack.sessionPresent }))
    client.once('error', reject)
  })
}

async function queueFive(topic: string): Promise<void> {
  for (let i = 0; i < 5; i++) await h.broker.publish(topic, `m${i}`, { qos: 1, retain: false })
}

const FIVE = ['m0', 'm1', 'm2', 'm3', 'm4']

/** The session `clientId` comes back present and is handed the five messages queued for it (queueFive), in order. */
async function expectFiveKept(username: string, password: string, clientId: string): Promise<void> {
  const back = await session(username, password, clientId)
  expect(back.sessionPresent).toBe(true)
  await waitFor(() => back.got.length === 5)
  expect(back.got).toEqual(FIVE)
  await back.client.endAsync()
}

describe('a device may use only its own client id', () => {
  it('refuses another device with the owner id while the owner is offline; the owner keeps its 5 queued messages', async () => {
    const owner = await h.addDevice('cid-owner-01')
    const intruder = await h.addDevice('cid-intruder-01')
    const first = await session('cid-owner-01', owner, 'cid-owner-01')
    await first.client.subscribeAsync('devices/cid-owner-01/cmd', { qos: 1 })
    await first.client.endAsync()
    await queueFive('devices/cid-owner-01/cmd')

    const before = await h.counter('mqtt_connect_refused_total', { reason: 'client_id_not_owned' })
    // Persistent (would read the queue) and clean (would delete the session): both refused.
    expect(await connackCode(h.url, 'cid-intruder-01', intruder, { clientId: 'cid-owner-01', clean: false })).toBe(2)
    expect(await connackCode(h.url, 'cid-intruder-01', intruder, { clientId: 'cid-owner-01', clean: true })).toBe(2)
    expect(await connackCode(h.url, 'cid-intruder-01', intruder, { clientId: 'cid-owner-01:backup', clean: true })).toBe(2)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'client_id_not_owned' })).toBe(before + 3)

    await expectFiveKept('cid-owner-01', owner, 'cid-owner-01')
  })

  it('accepts `{id}:{suffix}` and an empty id (assigned), refuses a made-up id and a bad suffix', async () => {
    const s = await h.addDevice('cid-forms-01')
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: 'cid-forms-01:diag' })).toBe(0)
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: '' })).toBe(0)
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: 'mqttjs_3f2a9c01' })).toBe(2)
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: 'cid-forms-01:' })).toBe(2)
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: 'cid-forms-01:a b' })).toBe(2)
    expect(await connackCode(h.url, 'cid-forms-01', s, { clientId: 'cid-forms-012' })).toBe(2)
  })

  it('leaves the live owner connected when another device tries its id', async () => {
    const sa = await h.addDevice('cid-live-01')
    const sb = await h.addDevice('cid-live-02')
    const a = await h.connect('cid-live-01', sa, { clientId: 'cid-live-01' })
    expect(await connackCode(h.url, 'cid-live-02', sb, { clientId: 'cid-live-01' })).toBe(2)
    await a.publishAsync('devices/cid-live-01/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
    expect(a.connected).toBe(true)
    // The owner itself takes its own session over (MQTT-3.1.4-2).
    const aClosed = closed(a)
    const a2 = await h.connect('cid-live-01', sa, { clientId: 'cid-live-01' })
    await aClosed
    expect(a2.connected).toBe(true)
  })
})

describe("an integration's persistent session is its token's", () => {
  it('a viewer token cannot take an officer integration id, persistent or clean; the 5 queued alerts stay', async () => {
    const officer = await h.addTokenWithId('officer')
    const viewer = await h.addTokenWithId('viewer')
    const id = `${officer.id}:national-reporting`
    const first = await session('token', officer.secret, id)
    await first.client.subscribeAsync('alerts/#', { qos: 1 })
    await first.client.endAsync()
    await queueFive('alerts/water_level/kim-long')

    expect(await connackCode(h.url, 'token', viewer.secret, { clientId: id, clean: false })).toBe(2)
    expect(await connackCode(h.url, 'token', viewer.secret, { clientId: id, clean: true })).toBe(2)
    expect(await connackCode(h.url, 'token', viewer.secret, { clientId: officer.id, clean: true })).toBe(2)
    // A device cannot either.
    const ds = await h.addDevice('cid-dev-intruder')
    expect(await connackCode(h.url, 'cid-dev-intruder', ds, { clientId: id, clean: true })).toBe(2)

    await expectFiveKept('token', officer.secret, id)
  })

  it('a persistent session needs an id: empty with clean session 0 is refused (MQTT-3.1.3-8)', async () => {
    const t = await h.addTokenWithId('viewer')
    // mqtt.js will not send this; a hand-built CONNECT does.
    const answer = await rawExchange(h.ports.mqtt, connectBytes({ clientId: '', clean: false, username: 'token', password: t.secret }))
    expect(answer.connack).toBe(2)
    expect(answer.closed).toBe(true)
  })
})

describe('persistent sessions per identity (mqtt.maxPersistentSessionsPerIdentity = 2 here)', () => {
  it('refuses a third id with clean session 0, keeps the two, and frees one when it connects clean', async () => {
    const t = await h.addTokenWithId('viewer')
    const before = await h.counter('mqtt_connect_refused_total', { reason: 'persistent_session_limit' })
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:a`, clean: false })).toBe(0)
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:b`, clean: false })).toBe(0)
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:c`, clean: false })).toBe(2)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'persistent_session_limit' })).toBe(before + 1)
    // The ones it has come back; clean sessions are not counted.
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:a`, clean: false })).toBe(0)
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:d`, clean: true })).toBe(0)
    // Clean session 1 on `b` ends that session (MQTT-3.1.2-6): room for `c`.
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:b`, clean: true })).toBe(0)
    expect(await connackCode(h.url, 'token', t.secret, { clientId: `${t.id}:c`, clean: false })).toBe(0)
    // Another identity has its own count.
    const other = await h.addTokenWithId('viewer')
    expect(await connackCode(h.url, 'token', other.secret, { clientId: `${other.id}:a`, clean: false })).toBe(0)
  })
})

describe('a refused CONNECT leaves the session under the id it claimed alone', () => {
  it('a wrong secret with clean session 1 on a device id does not drop its QoS 2 state: a resent PUBLISH is not delivered twice', async () => {
    const secret = await h.addDevice('cid-qos2-01')
    const reader = await h.connect('token', await h.addToken('viewer'))
    const delivered: string[] = []
    reader.on('message', (topic) => topic === 'devices/cid-qos2-01/telemetry' && delivered.push(topic))
    await reader.subscribeAsync('devices/cid-qos2-01/telemetry', { qos: 1 })

    const connect = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: false,
      clientId: 'cid-qos2-01',
      keepalive: 30,
      username: 'cid-qos2-01',
      password: Buffer.from(secret),
    } as const
    const publish = {
      cmd: 'publish',
      topic: 'devices/cid-qos2-01/telemetry',
      payload: Buffer.from('{"seq":1,"values":{"water_level":1}}'),
      qos: 2,
      messageId: 7,
      retain: false,
      dup: false,
    } as const
    // The device publishes at QoS 2, gets PUBREC, and loses its link before sending PUBREL.
    const first = await rawClient(h.ports.mqtt)
    first.send(connect)
    await first.next((p) => p.cmd === 'connack')
    first.send(publish)
    await first.next((p) => p.cmd === 'pubrec')
    first.destroy()
    await waitFor(() => delivered.length === 1)

    // Someone with a wrong secret connects with its id and clean session 1: refused (4).
    expect(await connackCode(h.url, 'cid-qos2-01', 'not-the-secret', { clientId: 'cid-qos2-01', clean: true })).toBe(4)

    // The device comes back and resends the PUBLISH (MQTT-4.4.0-1): the broker still knows it.
    const back = await rawClient(h.ports.mqtt)
    back.send(connect)
    await back.next((p) => p.cmd === 'connack')
    back.send({ ...publish, dup: true })
    await back.next((p) => p.cmd === 'pubrec')
    back.send({ cmd: 'pubrel', messageId: 7 })
    await back.next((p) => p.cmd === 'pubcomp')
    await new Promise((r) => setTimeout(r, 200))
    expect(delivered).toHaveLength(1)
    back.destroy()
  })
})
