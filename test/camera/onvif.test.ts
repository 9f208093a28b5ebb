import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectOnvif, discover } from '../../edge/camera/index.ts'
import { waitFor } from '../support/services.ts'
import { sample } from '../vision/support.ts'
import { multicastLoops, startDiscoveryResponder, startOnvifStandin, type Brand, type OnvifStandin } from './onvif-standin.ts'
import { startBroker, startSnapshotAgent, watch } from './support.ts'

// ONVIF through node-onvif against local stand-ins that answer as Hikvision and Dahua cameras do
// (see onvif-standin.ts): WS-Security on SOAP, HTTP Digest on snapshots, WS-Discovery over UDP.

const photo = sample('flood_lagos_2019.jpg')
const cams: Partial<Record<Brand, OnvifStandin>> = {}

beforeAll(async () => {
  cams.hikvision = await startOnvifStandin({
    brand: 'hikvision',
    username: 'admin',
    password: 'Hk-Pass.2024',
    snapshot: photo,
    rtspPort: 554,
  })
  cams.dahua = await startOnvifStandin({ brand: 'dahua', username: 'admin', password: 'Dh#pass99', snapshot: photo, rtspPort: 554 })
})
afterAll(async () => {
  await cams.hikvision?.close()
  await cams.dahua?.close()
})

const creds: Record<Brand, string> = { hikvision: 'Hk-Pass.2024', dahua: 'Dh#pass99' }

describe.each(['hikvision', 'dahua'] as const)('%s-style camera', (brand) => {
  it('gives device information, profiles, stream and snapshot URIs with the right credentials', async () => {
    const s = cams[brand]!
    const cam = await connectOnvif({ xaddr: s.xaddr, username: 'admin', password: creds[brand] })
    expect(cam.description).toMatchObject({
      manufacturer: s.brand.manufacturer,
      model: s.brand.model,
      firmware: s.brand.firmware,
      serial: s.brand.serial,
    })
    expect(cam.description.profiles.map((p) => p.token)).toEqual(s.brand.profiles.map((p) => p.token))
    expect(cam.description.profiles[0]).toMatchObject({ width: 2688, height: 1520, encoding: 'H264' })
    expect(cam.rtspUri()).toBe(`rtsp://127.0.0.1:554${s.brand.profiles[0]!.rtspPath}`)
    expect(cam.rtspUri(1)).toBe(`rtsp://127.0.0.1:554${s.brand.profiles[1]!.rtspPath}`)
    expect(cam.snapshotUri(s.brand.profiles[1]!.token)).toBe(`http://127.0.0.1:${s.port}${s.brand.profiles[1]!.snapshotPath}`)
    // The snapshot needs HTTP Digest: first a 401 challenge, then the JPEG.
    const before = s.log.length
    const jpeg = await cam.snapshot()
    expect(jpeg.equals(photo)).toBe(true)
    expect(s.log.slice(before).map((l) => `${l.what} ${l.status}`)).toEqual(['snapshot 401', 'snapshot 200'])
  })

  it('is refused with a wrong password (WS-Security digest checked)', async () => {
    const s = cams[brand]!
    await expect(connectOnvif({ xaddr: s.xaddr, username: 'admin', password: 'wrong' })).rejects.toThrow(/not Authorized/i)
    expect(s.log.some((l) => l.what === 'GetDeviceInformation' && l.status === 400)).toBe(true)
  })

  it('feeds the camera agent in snapshot mode: frames scaled and published over MQTT', async () => {
    const s = cams[brand]!
    const broker = await startBroker()
    const id = `cam-onvif-${brand}`
    const seen = await watch(broker.url, id)
    const agent = await startSnapshotAgent({
      deviceId: id,
      password: 'x',
      mqttUrl: broker.url,
      xaddr: s.xaddr,
      cameraPassword: creds[brand],
      max_width: 640,
      jpeg_quality: 75,
    })
    try {
      await waitFor(() => seen.frames.length >= 2, 20_000)
      const meta = await sharp(seen.frames[0]!.jpeg).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 640, 427])
      await waitFor(() => seen.statuses.some((x) => x.online), 5000)
    } finally {
      await agent.stop()
      await seen.client.endAsync()
      await broker.close()
    }
  })
})

describe('WS-Discovery', () => {
  const targets = () => [
    { brand: 'hikvision' as const, xaddr: cams.hikvision!.xaddr, urn: 'urn:uuid:54575443-4d53-4c61-6e20-bcbac2a1b2c3' },
    { brand: 'dahua' as const, xaddr: cams.dahua!.xaddr, urn: 'uuid:d0d1d2d3-d4d5-d6d7-d8d9-3ce36b123456' },
  ]

  it('parses ProbeMatches from a unicast responder (directed probe)', async () => {
    const r = await startDiscoveryResponder(targets(), 'unicast')
    try {
      const found = await discover({ waitMs: 800, target: { address: '127.0.0.1', port: r.port } })
      expect(r.probes).toBeGreaterThan(0)
      const byUrn = Object.fromEntries(found.map((d) => [d.urn, d]))
      expect(Object.keys(byUrn).sort()).toEqual(
        targets()
          .map((t) => t.urn)
          .sort(),
      )
      const hik = byUrn['urn:uuid:54575443-4d53-4c61-6e20-bcbac2a1b2c3']!
      expect(hik).toMatchObject({
        hardware: 'DS-2CD2143G2-I',
        name: 'HIKVISION DS-2CD2143G2-I',
        location: 'hue',
        xaddrs: [cams.hikvision!.xaddr],
      })
      // A discovered xaddr is directly usable.
      const cam = await connectOnvif({ xaddr: hik.xaddrs[0]!, username: 'admin', password: creds.hikvision })
      expect(cam.description.manufacturer).toBe('HIKVISION')
    } finally {
      await r.close()
    }
  })

  it('finds cameras by multicast probe on 239.255.255.250:3702 where the network loops multicast back', async (ctx) => {
    if (!(await multicastLoops())) {
      console.log('WS-Discovery multicast: this network does not loop multicast back; covered by the unicast test only')
      ctx.skip()
      return
    }
    const r = await startDiscoveryResponder(targets(), 'multicast')
    try {
      const found = await discover({ waitMs: 800 })
      expect(found.map((d) => d.urn)).toEqual(expect.arrayContaining(targets().map((t) => t.urn)))
    } finally {
      await r.close()
    }
  })
})
