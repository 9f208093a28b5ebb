import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { logIn, openEventStream, type EventStream } from '../support/gateway-api.ts'
import type { FrameEvent } from '../../gateway/console/web/src/frames.ts'
import { sample } from '../support/samples.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { logInAt, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// Camera frames on the SSE stream (docs/api.md, "Server-Sent Events", `event: detection`) against
// `iocgw start` as a real process with vision on: real MQTT cameras publish real photos, the stream
// delivers each camera's analysed frame (per-zone counts, congestion, number of boxes) to the
// users whose districts hold the camera, not to others, nor with ?detections=false; and in
// Chromium the camera grid and the camera page show the new frame without a reload and without
// polling the detections while the stream is up.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-live-admin-${Math.random().toString(36).slice(2)}-token`
const AN = { name: 'nguyen.van.an', password: 'mat-khau-phu-xuan-2026' }
const CAM = 'cam-truong-tien-02' // Phú Xuân
const OTHER = 'cam-phong-dien-02' // Phong Điền
// Two different photos in turn, so the motion gate (docs/vision.md) analyses each frame.
const PHOTOS = ['coco_000000001532.jpg', 'coco_000000001584.jpg']

const cameras = new Map<string, mqtt.MqttClient>()
let shot = 0

const ui = useConsoleSuite({ name: 'live', adminToken: ADMIN, enabled: haveChromium, setUp })
const { admin } = ui

/** The detection events (docs/api.md, `event: detection`) a stream has delivered so far. */
const framesOf = (stream: EventStream): FrameEvent[] =>
  stream
    .text()
    .split('\n\n')
    .filter((b) => b.includes('event: detection'))
    .map(
      (b) =>
        JSON.parse(
          b
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        ) as FrameEvent,
    )

/** Publishes the next photo as a frame of `camera` captured at `ts` (docs/mqtt.md, frames). */
async function publishFrame(camera: string, ts: number): Promise<void> {
  await cameras.get(camera)!.publishAsync(`devices/${camera}/frames/${ts}`, sample(PHOTOS[shot++ % 2]!), { qos: 1 })
}

/** The viewer of Phú Xuân; a camera there and one in Phong Điền. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: AN.name, role: 'viewer', password: AN.password, districts: ['Phú Xuân'] })).status).toBe(
    201,
  )
  for (const [id, name, district] of [
    [CAM, 'Cầu Trường Tiền', 'Phú Xuân'],
    [OTHER, 'Ngã ba Phong Điền', 'Phong Điền'],
  ] as const) {
    cameras.set(id, await ui.device({ id, kind: 'camera', name, district }))
  }
}

describe.skipIf(!haveChromium)('camera frames on the event stream', () => {
  it('delivers event: detection for a real frame, scoped to the districts, and not with ?detections=false', async () => {
    const { cookie } = await logIn(ui.gw.apiUrl, AN.name, AN.password)
    const an = await openEventStream(ui.gw.apiUrl, '?readings=false', { cookie })
    const all = await openEventStream(ui.gw.apiUrl, '', { authorization: `Bearer ${ADMIN}` })
    const none = await openEventStream(ui.gw.apiUrl, '?detections=false', { authorization: `Bearer ${ADMIN}` })

    const t = Date.now() - 60_000
    await publishFrame(OTHER, t)
    await publishFrame(CAM, t + 1000)
    await waitFor(() => framesOf(all).some((f) => f.camera === CAM) && framesOf(all).some((f) => f.camera === OTHER), 120_000, 250)
    await waitFor(() => framesOf(an).some((f) => f.camera === CAM), 10_000, 100)

    const ev = framesOf(an).find((f) => f.camera === CAM)!
    expect(ev.ts).toBe(new Date(t + 1000).toISOString())
    expect(ev.district).toBe('Phú Xuân')
    expect(ev.zones.map((z) => z.zone)).toEqual(['all'])
    const detections = await admin<{
      items: Array<{ objects: unknown[]; zones: Array<{ counts: Record<string, number>; congestion: number }> }>
    }>('GET', `/cameras/${CAM}/detections?from=${t + 1000}&to=${t + 1001}`)
    const rec = detections.body.items[0]!
    // The event says what the stored record says.
    expect(ev.zones[0]!.counts).toEqual(rec.zones[0]!.counts)
    expect(ev.congestion).toBe(rec.zones[0]!.congestion)
    expect(ev.boxes).toBe(rec.objects.length)
    expect(ev.boxes).toBeGreaterThan(0)

    // The other district's camera reached the unscoped stream, so it was sent before: not to an.
    expect(framesOf(an).some((f) => f.camera === OTHER)).toBe(false)
    expect(an.text()).not.toContain(OTHER)
    // A client that opted out got none, over the same time.
    expect(none.text()).not.toContain('event: detection')
    // At most one event per camera per flush: one frame each here.
    expect(framesOf(all).filter((f) => f.camera === CAM)).toHaveLength(1)
    await Promise.all([an.close(), all.close(), none.close()])
  }, 240_000)

  it('updates the camera grid and the camera page from the stream, without a reload or polling', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    const polls: string[] = []
    page.on('request', (r) => {
      if (r.url().includes('/detections')) polls.push(r.url())
    })
    const streamOpen = page.waitForResponse((r) => r.url().includes('/events?readings=false'), { timeout: 60_000 })
    await logInAt(page, `${ui.gw.apiUrl}/cameras`, AN, 'Camera giao thông')
    const card = page.locator('li.camera-card', { hasText: 'Cầu Trường Tiền' })
    const img = card.locator('.snap img')
    await card.locator('li[data-zone="all"]').waitFor({ timeout: 30_000 })
    expect(await page.locator('li.camera-card', { hasText: 'Phong Điền' }).count()).toBe(0)
    // The first load, and one more when the stream opens after it (what was missed meanwhile):
    // counted once the stream is open and no fetch came for 1.5 s.
    await streamOpen
    let seen = -1
    await waitFor(
      () => {
        const quiet = polls.length >= 1 && polls.length === seen
        seen = polls.length
        return quiet
      },
      20_000,
      1500,
    )
    const loads = polls.length
    // Long enough for the old 4 s poll to have asked again.
    await page.waitForTimeout(6000)

    const t2 = Date.now() - 30_000
    await publishFrame(CAM, t2)
    await expect
      .poll(() => img.getAttribute('src'), { timeout: 120_000 })
      .toContain(`frame=${encodeURIComponent(new Date(t2).toISOString())}`)
    await expect
      .poll(() => img.evaluate((i: { complete: boolean; naturalWidth: number }) => i.complete && i.naturalWidth), { timeout: 15_000 })
      .toBe(640)
    const rec = (
      await admin<{ items: Array<{ zones: Array<{ counts: Record<string, number> }> }> }>(
        'GET',
        `/cameras/${CAM}/detections?from=${t2}&to=${t2 + 1}`,
      )
    ).body.items[0]!
    const n = Object.values(rec.zones[0]!.counts).reduce((a, b) => a + b, 0)
    await expect.poll(() => card.locator('li[data-zone="all"] .zone-total').textContent()).toBe(`${n} phương tiện`)
    expect(polls.length).toBe(loads)

    // The camera page follows the same way.
    await card.getByRole('link', { name: 'Cầu Trường Tiền' }).click()
    await page.getByRole('heading', { name: 'Cầu Trường Tiền', level: 1 }).waitFor()
    await page.locator('.camera-side li[data-zone="all"]').waitFor({ timeout: 20_000 })
    const rows = () => page.locator('.camera-history tbody tr').count()
    const before = await rows()
    const onPage = polls.length
    const t3 = Date.now() - 20_000
    await publishFrame(CAM, t3)
    await expect
      .poll(() => page.locator('.camera-top .snap img').getAttribute('src'), { timeout: 120_000 })
      .toContain(`frame=${encodeURIComponent(new Date(t3).toISOString())}`)
    await expect.poll(rows).toBe(before + 1)
    expect(polls.length).toBe(onPage)
    expect(page.url()).toBe(`${ui.gw.apiUrl}/cameras/${CAM}`)
    expect(problems.filter((p) => !/401 \(Unauthorized\)/.test(p))).toEqual([])
    await context.close()
  }, 300_000)
})
