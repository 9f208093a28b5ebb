// MQTT-3.1.2-2: a CONNECT with a protocol level the broker does not speak is answered with
// CONNACK 0x01 (unacceptable protocol level) and the connection is then closed. The broker speaks
// 3.1.1 (level 4) and 3.1 (level 3, `MQIsdp`); hand-built CONNECTs on a raw socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Harness } from './harness.ts'
import { connectBytes, levelIndex, rawExchange } from './raw.ts'

let h: Harness
let secret: string

beforeAll(async () => {
  h = await startBroker()
  secret = await h.addDevice('level-01')
})
afterAll(async () => {
  await h?.stop()
})

function withLevel(level: number): Buffer {
  const bytes = connectBytes({ clientId: 'level-01', clean: true, username: 'level-01', password: secret })
  bytes[levelIndex(bytes)] = level
  return bytes
}

describe('protocol level (MQTT-3.1.2-2)', () => {
  it.each([0, 1, 2, 6, 7, 127, 255])('level %i: CONNACK 1, then the connection is closed', async (level) => {
    const answer = await rawExchange(h.ports.mqtt, withLevel(level))
    expect([...answer.bytes]).toEqual([0x20, 0x02, 0x00, 0x01])
    expect(answer.closed).toBe(true)
  })

  it('level 5 (MQTT 5): CONNACK 1, then closed', async () => {
    const answer = await rawExchange(
      h.ports.mqtt,
      connectBytes({ clientId: 'level-01', clean: true, username: 'level-01', password: secret, protocolVersion: 5 }),
    )
    expect([...answer.bytes.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x01])
    expect(answer.closed).toBe(true)
  })

  it('counts each refusal with reason protocol_level', async () => {
    const before = await h.counter('mqtt_connect_refused_total', { reason: 'protocol_level' })
    await rawExchange(h.ports.mqtt, withLevel(6))
    await rawExchange(
      h.ports.mqtt,
      connectBytes({ clientId: 'level-01', clean: true, username: 'level-01', password: secret, protocolVersion: 5 }),
    )
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'protocol_level' })).toBe(before + 2)
  })

  it('levels 4 (3.1.1) and 3 (3.1, MQIsdp) are accepted: CONNACK 0', async () => {
    const v4 = await rawExchange(
      h.ports.mqtt,
      connectBytes({ clientId: 'level-01', clean: true, username: 'level-01', password: secret }),
      300,
    )
    expect(v4.connack).toBe(0)
    const v3 = await rawExchange(
      h.ports.mqtt,
      connectBytes({ clientId: 'level-01', clean: true, username: 'level-01', password: secret, protocolVersion: 3 }),
      300,
    )
    expect(v3.connack).toBe(0)
  })
})
