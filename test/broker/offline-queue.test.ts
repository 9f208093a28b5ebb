// Persistent sessions (clean session 0) on a live broker: QoS 1 messages published while the
// subscriber is away are delivered when it comes back, and the queue holding them is bounded
// (mqtt.maxQueuedMessages), dropping the oldest and counting each drop.
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'

let h: Harness | undefined
afterEach(async () => {
  await h?.stop()
  h = undefined
})

/** Connects with a persistent session and records every message from the first packet on. */
function session(url: string, token: string, clientId: string): Promise<{ client: MqttClient; got: string[] }> {
  const got: string[] = []
  const client = mqtt.connect(url, { username: 'token', password: token, clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 })
  client.on('message', (_topic, payload) => got.push(payload.toString()))
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve({ client, got }))
    client.once('error', reject)
  })
}

/** The client id of a token's persistent session: `{token id}:{suffix}` (docs/mqtt.md). */
const clientIdOf = (token: { id: string }): string => `${token.id}:national-reporting`

async function publishWhileAway(
  h: Harness,
  token: { id: string; secret: string },
  n: number,
): Promise<{ client: MqttClient; got: string[] }> {
  const first = await session(h.url, token.secret, clientIdOf(token))
  await first.client.subscribeAsync('alerts/#', { qos: 1 })
  await first.client.endAsync()
  for (let i = 0; i < n; i++) await h.broker.publish('alerts/water_level/kim-long', `alert ${i}`, { qos: 1, retain: false })
  return session(h.url, token.secret, clientIdOf(token))
}

describe('persistent-session queues', () => {
  it('deliver what was published while the subscriber was away, in order', async () => {
    h = await startBroker({ maxQueuedMessages: 5 })
    const back = await publishWhileAway(h, await h.addTokenWithId('viewer'), 4)
    await waitFor(() => back.got.length === 4)
    expect(back.got).toEqual(['alert 0', 'alert 1', 'alert 2', 'alert 3'])
    expect(await h.counter('mqtt_queue_dropped_total')).toBe(0)
    await back.client.endAsync()
  })

  it('keep at most maxQueuedMessages: the oldest are dropped, counted and logged once', async () => {
    h = await startBroker({ maxQueuedMessages: 5 })
    const token = await h.addTokenWithId('viewer')
    const back = await publishWhileAway(h, token, 12)
    await waitFor(() => back.got.length === 5)
    // Nothing more arrives after the five newest.
    await new Promise((r) => setTimeout(r, 200))
    expect(back.got).toEqual(['alert 7', 'alert 8', 'alert 9', 'alert 10', 'alert 11'])
    expect(await h.counter('mqtt_queue_dropped_total')).toBe(7)
    expect(h.lines.filter((l) => l.includes('"event":"mqtt_queue_full"'))).toHaveLength(1)

    // Acknowledged messages leave the queue: a later absence starts from empty.
    await back.client.endAsync()
    const again = await session(h.url, token.secret, clientIdOf(token))
    await new Promise((r) => setTimeout(r, 200))
    expect(again.got).toEqual([])
    await again.client.endAsync()
  })
})
