import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Harness } from '../broker/harness.ts'
import { startOnvifStandin } from '../camera/onvif-standin.ts'
import { startSnapshotAgent } from '../camera/support.ts'
import { mosquittoArgs, runMosquitto } from '../support/mosquitto-clients.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { sample, samplePath, useVision, visionConfig } from './support.ts'

// End to end over the real gateway broker (device authentication, topic ACL, publish routing):
// frames from mqtt.js, from Debian's mosquitto_pub -f, and from the edge camera agent reading an
// ONVIF stand-in, analysed by the real models.

const v = useVision(visionConfig({ motion: { enabled: false } }))
let h: Harness
let secret: string

beforeAll(async () => {
  h = await startBroker({ routes: { frames: v.vision.frames } })
  secret = await h.addDevice('cam-e2e-01', 'camera')
})
afterAll(async () => {
  await h?.stop()
})

const counts = (ts: number) => v.points.filter((p) => p.camera === 'cam-e2e-01' && p.ts === ts)

describe('frames over MQTT into vision', () => {
  it('analyses a JPEG published by mqtt.js (QoS 1) with its capture time; 3 MB is refused and counted', async () => {
    const c = await h.connect('cam-e2e-01', secret)
    await c.publishAsync('devices/cam-e2e-01/frames/1700000000000', sample('coco_000000001584.jpg'), { qos: 1 })
    await waitFor(() => counts(1700000000000).length > 0, 20_000)
    expect(counts(1700000000000)[0]!.fields).toMatchObject({ bus: 3, car: 0 })

    // The broker stops a packet over 2 MiB (+ headers) before it is read, closing the connection
    // and counting it; the frames handler's own 2 MiB check covers what gets past (vision tests).
    const oversize0 = await h.counter('mqtt_oversize_packets_total')
    const gone = new Promise<void>((r) => c.once('close', () => r()))
    c.publish('devices/cam-e2e-01/frames', Buffer.concat([sample('coco_000000001584.jpg'), Buffer.alloc(3 * 1024 * 1024)]), { qos: 1 })
    await gone
    await waitFor(async () => (await h.counter('mqtt_oversize_packets_total')) === oversize0 + 1, 10_000)
    await c.endAsync(true)
  })

  it.skipIf(!requireCommand('mosquitto_pub'))('analyses a frame sent with mosquitto_pub -f (arrival time)', async () => {
    const before = Date.now()
    const url = new URL(h.url)
    const login = { host: url.hostname, port: url.port, user: 'cam-e2e-01', pass: secret }
    const sent = await runMosquitto(
      'mosquitto_pub',
      mosquittoArgs(login, 'devices/cam-e2e-01/frames', '-q', '1', '-f', samplePath('coco_000000007816.jpg')),
    )
    expect(sent).toEqual({ code: 0, out: '' })
    await waitFor(() => v.points.some((p) => p.camera === 'cam-e2e-01' && p.ts >= before && p.fields.motorcycle === 1), 20_000)
  })

  it('counts what the edge camera agent captures from an ONVIF camera, through device credentials', async () => {
    const cam = await startOnvifStandin({
      brand: 'dahua',
      username: 'admin',
      password: 'Dh#pass99',
      snapshot: sample('coco_000000001532.jpg'),
      rtspPort: 554,
    })
    const agent = await startSnapshotAgent({
      deviceId: 'cam-e2e-01',
      password: secret,
      mqttUrl: h.url,
      xaddr: cam.xaddr,
      cameraPassword: 'Dh#pass99',
      max_width: 1280,
      jpeg_quality: 90,
    })
    const since = Date.now() - 1000
    try {
      // 1532 at its own size: four cars and a truck (re-encoded at q90, so within count_range).
      await waitFor(
        () => v.points.some((p) => p.camera === 'cam-e2e-01' && p.ts >= since && p.fields.truck === 1 && p.fields.car === 4),
        30_000,
      )
    } finally {
      await agent.stop()
      await cam.close()
    }
  })
})
