// Debian's mosquitto_pub and mosquitto_sub (an independent MQTT implementation) against the broker.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevicePublish } from '../../gateway/broker/index.ts'
import { mosquittoArgs, runMosquitto, type ClientRun } from '../support/mosquitto-clients.ts'
import { samplePath } from '../support/samples.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { actor, startBroker, type Harness } from './harness.ts'

const HAVE = requireCommand('mosquitto_pub') && requireCommand('mosquitto_sub')
const FRAME = samplePath('coco_000000001532.jpg')

let h: Harness
const frames: DevicePublish[] = []

const login = (user: string, pass: string) => ({ port: h.ports.mqtt, user, pass })

function pub(user: string, pass: string, topic: string, extra: string[] = ['-m', '{"values":{"water_level":1.1}}']): Promise<ClientRun> {
  return runMosquitto('mosquitto_pub', mosquittoArgs(login(user, pass), topic, '-q', '1', ...extra))
}

beforeAll(async () => {
  if (!HAVE) return
  h = await startBroker({
    routes: {
      frames: async (m) => {
        frames.push(m)
      },
    },
  })
})
afterAll(async () => {
  await h?.stop()
})

describe.skipIf(!HAVE)('mosquitto_pub / mosquitto_sub', () => {
  it('publishes with the right credentials', async () => {
    const secret = await h.addDevice('mosq-ok-01')
    const r = await pub('mosq-ok-01', secret, 'devices/mosq-ok-01/telemetry')
    expect(r).toEqual({ code: 0, out: '' })
    await waitFor(async () => (await h.counter('mqtt_messages_in_total', { topic: 'telemetry' })) === 1)
  })

  it('sends a JPEG with -f to frames/{ms}, byte for byte', async () => {
    const secret = await h.addDevice('mosq-cam-01', 'camera')
    const r = await pub('mosq-cam-01', secret, 'devices/mosq-cam-01/frames/1767225600000', ['-f', FRAME])
    expect(r.code).toBe(0)
    expect(frames).toHaveLength(1)
    expect(frames[0]!.subtopic).toBe('frames/1767225600000')
    expect(frames[0]!.payload.equals(readFileSync(FRAME))).toBe(true)
  })

  it('is refused: wrong secret and unknown device "bad user name or password", disabled "not authorised"', async () => {
    await h.addDevice('mosq-bad-01')
    const s = await h.addDevice('mosq-dis-01')
    await h.registry.updateDevice('mosq-dis-01', { state: 'disabled' }, actor)
    const wrong = await pub('mosq-bad-01', 'mosq-wrong-secret', 'devices/mosq-bad-01/telemetry')
    const unknown = await pub('mosq-nobody', 'mosq-wrong-secret', 'devices/mosq-nobody/telemetry')
    const disabled = await pub('mosq-dis-01', s, 'devices/mosq-dis-01/telemetry')
    // The text mosquitto prints for CONNACK return codes 4 and 5 (MQTT 3.1.1 clause 3.2.2.3).
    expect(wrong.code).not.toBe(0)
    expect(wrong.out).toMatch(/bad user name or password/i)
    expect(unknown.out).toMatch(/bad user name or password/i)
    expect(disabled.code).not.toBe(0)
    expect(disabled.out).toMatch(/not authori[sz]ed/i)
  })

  it('subscribes to its own config; a wildcard subscription is denied', async () => {
    const secret = await h.addDevice('mosq-sub-01')
    await h.broker.publish('devices/mosq-sub-01/config', '{"interval_s":30}', { qos: 1, retain: true })
    const own = await runMosquitto(
      'mosquitto_sub',
      mosquittoArgs(login('mosq-sub-01', secret), 'devices/mosq-sub-01/config', '-C', '1', '-W', '10'),
    )
    expect(own).toEqual({ code: 0, out: '{"interval_s":30}\n' })
    const all = await runMosquitto('mosquitto_sub', mosquittoArgs(login('mosq-sub-01', secret), '#', '-d', '-C', '1', '-W', '5'))
    // SUBACK return code 0x80 (clause 3.9.3); mosquitto_sub then gives up.
    expect(all.out).toContain('Subscribed (mid: 1): 128')
    expect(all.out).toMatch(/All subscription requests were denied/)
    expect(all.out).not.toContain('interval_s')
  })

  it('an integration token reads telemetry that mosquitto_pub sends', async () => {
    const token = await h.addToken('viewer')
    const secret = await h.addDevice('mosq-int-01')
    const sub = spawn('mosquitto_sub', mosquittoArgs(login('token', token), 'devices/+/telemetry', '-v', '-C', '1', '-W', '15'))
    let out = ''
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const done = new Promise<number | null>((r) => sub.on('exit', (c) => r(c)))
    await waitFor(() => h.broker.connectedCount() >= 1 && h.counter('mqtt_connects_total', { kind: 'integration' }).then((n) => n >= 1))
    // Subscribed once the SUBACK went out; publish until the subscriber has it.
    await waitFor(async () => {
      await pub('mosq-int-01', secret, 'devices/mosq-int-01/telemetry', ['-m', '{"values":{"water_level":3.3}}'])
      return out.length > 0
    })
    expect(await done).toBe(0)
    expect(out).toBe('devices/mosq-int-01/telemetry {"values":{"water_level":3.3}}\n')
  })

  it('rotate-secret closes an open mosquitto_sub session and its old secret stops working', async () => {
    const old = await h.addDevice('mosq-rot-01')
    // stdbuf: mosquitto_sub's -d lines go to a pipe, line by line.
    const sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...mosquittoArgs(login('mosq-rot-01', old), 'devices/mosq-rot-01/cmd', '-d')])
    let out = ''
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()))
    sub.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exit = new Promise<number | null>((r) => sub.on('exit', (c) => r(c)))
    await waitFor(() => out.includes('SUBACK'))
    await h.registry.rotateSecret('mosq-rot-01', actor)
    // mosquitto_sub sees its connection closed, tries again with the old secret and is refused.
    const code = await exit
    expect(code).toBe(4)
    expect(out).toMatch(/received CONNACK \(0\)[^]*received SUBACK[^]*received CONNACK \(4\)/)
    expect(out).toMatch(/bad user name or password/i)
    expect(await h.counter('mqtt_revocation_kicks_total', { reason: 'secret_rotated' })).toBe(1)
    expect((await pub('mosq-rot-01', old, 'devices/mosq-rot-01/telemetry')).out).toMatch(/bad user name or password/i)
  })

  it('logs no secret', () => {
    for (const s of h.secrets) expect(h.lines.filter((l) => l.includes(s))).toEqual([])
  })
})
