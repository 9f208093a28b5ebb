import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { sample } from '../support/samples.ts'
import { WHOLE_FRAME } from '../../gateway/vision/zones.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Cameras across nodes (docs/operations.md "Several nodes", "Cameras across nodes"): three real
// gateway processes on one PostgreSQL and one Redis, the real detector, six cameras each
// connected to some node. Every frame is analysed once, by the node holding the camera's lease
// (forwarded there when the camera is connected elsewhere); the leases are spread over the nodes;
// after kill -9 of one node its cameras are analysed again by a survivor within the documented
// bound, and no frame is analysed twice.

const ADMIN = 'cluster-vision-admin-token-0123456789'
// Long enough that a node busy loading its model does not miss its renewals on a loaded box.
const TTL = 5000
const RENEW = Math.floor(TTL / 3)
/** Each camera sends one frame this often: well under one analysis at a time per camera. */
const EVERY_MS = 2000
// Query and scheduling latency on a loaded two-core test box, on top of the documented bound.
const SLACK_MS = 4000
const PHOTO = 'coco_000000001584.jpg'
const NODES = ['node-a', 'node-b', 'node-c'] as const
const CAMERAS = Array.from({ length: 6 }, (_, i) => `cam-cl-0${i + 1}`)

type NodeId = (typeof NODES)[number]

interface Sent {
  camera: string
  ts: number
  node: NodeId
  /** PUBACK received: the frame was accepted by the node (a timeout leaves it unknown). */
  acked: boolean
}

describe.skipIf(!requirePostgres() || !requireRedis())('vision across gateway nodes', () => {
  const dirs = Object.fromEntries(NODES.map((n) => [n, tempDir()])) as Record<NodeId, ReturnType<typeof tempDir>>
  const confDir = tempDir()
  let pgi: PgInstance
  let redis: RedisServer
  let url: string
  const gw = {} as Record<NodeId, GatewayProcess>
  const creds = new Map<string, { username: string; password: string }>()
  const sent: Sent[] = []
  const photo = sample(PHOTO)

  const api = async (node: NodeId, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw[node].apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, text: await res.text() }
  }
  const metric = async (node: NodeId, re: RegExp): Promise<number> => {
    const m = re.exec((await api(node, 'GET', '/metrics')).text)
    return m ? Number(m[1]) : 0
  }
  const analysed = (n: NodeId) => metric(n, /^iocgw_vision_frames_total\{outcome="analysed"\} (\d+)$/m)
  const leased = (n: NodeId) => metric(n, /^iocgw_vision_cameras_leased (\d+)$/m)
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      return (await c.query<R>(text, values)).rows
    } finally {
      await c.end()
    }
  }
  const holders = async (): Promise<Map<string, { holder: string | null; token: number }>> => {
    const rows = await query<{ name: string; holder: string | null; token: string }>(
      `SELECT name, holder, token FROM cluster_leases WHERE name LIKE 'camera:%' AND expires_at > now()`,
    )
    return new Map(rows.map((x) => [x.name.slice('camera:'.length), { holder: x.holder, token: Number(x.token) }]))
  }
  /** (camera, capture time, node that analysed it) of every detection record, in the log the nodes share (gateway/vision/postgres/). */
  const allRecords = async (): Promise<Array<{ camera: string; ts: number; node: NodeId }>> =>
    (await query<{ camera: string; ts: string; node: NodeId }>('SELECT camera, ts, node FROM vision_detections')).map((r) => ({
      ...r,
      ts: Number(r.ts),
    }))
  const records = async (node: NodeId) => (await allRecords()).filter((r) => r.node === node)
  const key = (camera: string, ts: number) => `${camera}@${ts}`

  // One MQTT connection per camera, to the node it landed on; moved when that node dies.
  const clients = new Map<string, { client: MqttClient; node: NodeId }>()
  const connectCamera = async (camera: string, node: NodeId) => {
    const c = creds.get(camera)!
    const client = await mqtt.connectAsync(gw[node].mqttUrl, {
      username: c.username,
      password: c.password,
      clientId: camera,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
    })
    clients.set(camera, { client, node })
  }
  let lastTs = 0
  const sendFrame = async (camera: string): Promise<void> => {
    const conn = clients.get(camera)!
    // Unique capture times across cameras: one frame's id is (camera, ts), and ts alone is unique too.
    const ts = (lastTs = Math.max(Date.now(), lastTs + 1))
    const s: Sent = { camera, ts, node: conn.node, acked: false }
    sent.push(s)
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 15_000).unref())
    await Promise.race([
      conn.client.publishAsync(`devices/${camera}/frames/${ts}`, photo, { qos: 1 }).then(
        () => void (s.acked = true),
        () => undefined,
      ),
      timeout,
    ])
  }
  /** One round: a frame from every camera, spread over EVERY_MS. */
  const round = async (skip: (camera: string) => boolean = () => false) => {
    for (const cam of CAMERAS) {
      if (!skip(cam)) void sendFrame(cam)
      await new Promise((r) => setTimeout(r, EVERY_MS / CAMERAS.length))
    }
  }

  beforeAll(async () => {
    pgi = await startPostgres()
    url = await pgi.createDatabase()
    redis = await startRedis()
    const config = join(confDir.path, 'gateway.yaml')
    // One single-threaded worker per node and no motion gate: every frame is analysed, cheaply.
    writeFileSync(
      config,
      `vision:\n  workers: 1\n  threadsPerWorker: 1\n  motion: { enabled: false }\npostgres:\n  leaseTtlMs: ${TTL}\nredis:\n  heartbeatMs: 1000\n`,
    )
    const start = (node: NodeId) =>
      spawnGateway({
        dataDir: dirs[node].path,
        args: ['--config', config],
        env: { IOC_ADMIN_TOKEN: ADMIN, IOC_POSTGRES_URL: url, IOC_REDIS_URL: redis.url, IOC_NODE_ID: node },
      })
    gw['node-a'] = await start('node-a')
    // Every node hashes with the same server key (docs/operations.md "Registry in PostgreSQL").
    for (const n of NODES.slice(1)) cpSync(join(dirs['node-a'].path, 'server.key'), join(dirs[n].path, 'server.key'))
    gw['node-b'] = await start('node-b')
    gw['node-c'] = await start('node-c')
    for (const cam of CAMERAS) {
      const r = await api('node-a', 'POST', '/api/v1/devices', { id: cam, kind: 'camera', name: `Camera ${cam}`, station: 'kim-long' })
      expect(r.status).toBe(201)
      creds.set(cam, (JSON.parse(r.text) as { credentials: { username: string; password: string } }).credentials)
    }
  }, 300_000)

  afterAll(async () => {
    for (const { client } of clients.values()) await client.endAsync(true).catch(() => undefined)
    for (const n of NODES) if (gw[n]) await stopGateway(gw[n])
    await redis?.stop()
    await pgi?.stop()
    for (const d of [...Object.values(dirs), confDir]) d.remove()
  })

  it('spreads the cameras over the nodes and analyses every frame once, on the holder of its lease', async () => {
    // Every node holds two of the six camera leases and listens for their forwarded frames.
    await waitFor(async () => (await Promise.all(NODES.map(leased))).every((n) => n === 2), 120_000, 250)
    const held = await holders()
    expect([...held.keys()].sort()).toEqual(CAMERAS)
    for (const n of NODES) expect([...held.values()].filter((h) => h.holder === n)).toHaveLength(2)
    // Each camera lands on some node, mostly not the one holding its lease.
    for (const [i, cam] of CAMERAS.entries()) await connectCamera(cam, NODES[i % NODES.length]!)
    const forwardedFrames = () => sent.filter((s) => held.get(s.camera)!.holder !== s.node).length
    expect(CAMERAS.filter((c) => held.get(c)!.holder !== clients.get(c)!.node).length).toBeGreaterThan(0)

    // The first frame of each camera starts the workers of its holder (one per node); then three more rounds.
    await round()
    await waitFor(async () => (await Promise.all(NODES.map(analysed))).reduce((a, b) => a + b) === CAMERAS.length, 120_000, 250)
    for (let i = 0; i < 3; i++) await round()
    const total = sent.length
    await waitFor(async () => (await Promise.all(NODES.map(analysed))).reduce((a, b) => a + b) === total, 120_000, 250)
    expect(sent.every((s) => s.acked)).toBe(true)

    const recs = await allRecords()
    expect(recs).toHaveLength(total)
    const byKey = new Map(recs.map((r) => [key(r.camera, r.ts), r.node]))
    // Once each, on the node holding the camera's lease, wherever the camera was connected.
    for (const s of sent) expect(byKey.get(key(s.camera, s.ts))).toBe(held.get(s.camera)!.holder)
    for (const n of NODES) {
      expect(await analysed(n)).toBe((await records(n)).length)
      expect((await records(n)).length).toBeGreaterThan(0)
    }
    // Any node lists a camera's records, not only the node that analysed them (HAProxy sends a request to any node).
    for (const cam of CAMERAS) {
      const other = NODES.find((n) => n !== held.get(cam)!.holder)!
      const r = await api(other, 'GET', `/api/v1/cameras/${cam}/detections`)
      expect(r.status).toBe(200)
      const listed = (JSON.parse(r.text) as { items: Array<{ ts: string }> }).items.map((i) => Date.parse(i.ts))
      expect(listed, `${cam} through ${other}`).toEqual(sent.filter((s) => s.camera === cam).map((s) => s.ts))
    }
    // So is its snapshot, which only the node analysing it holds: asked of another node, it is fetched from there.
    const snapshot = async (node: NodeId, cam: string) => {
      const res = await fetch(`${gw[node].apiUrl}/api/v1/cameras/${cam}/snapshot`, { headers: { authorization: `Bearer ${ADMIN}` } })
      return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) }
    }
    for (const cam of CAMERAS) {
      const holder = held.get(cam)!.holder as NodeId
      const own = await snapshot(holder, cam)
      expect(own.status).toBe(200)
      for (const other of NODES.filter((n) => n !== holder)) {
        const relayed = await snapshot(other, cam)
        expect(relayed.status, `${cam} through ${other}`).toBe(200)
        expect(relayed.type).toBe('image/jpeg')
        expect(relayed.body.equals(own.body), `${cam} through ${other}: the holder's drawing`).toBe(true)
      }
    }
    // The leases stayed where they were throughout (same holders, same tokens).
    expect(await holders()).toEqual(held)
    const forwarded = await Promise.all(NODES.map((n) => metric(n, /^iocgw_vision_frames_forwarded_total (\d+)$/m)))
    expect(forwarded.reduce((a, b) => a + b)).toBe(forwardedFrames())
  }, 400_000)

  it('kill -9 of a node: a survivor analyses its cameras within ttl + ttl/3, and no frame is analysed twice', async () => {
    const before = await holders()
    const victim: NodeId = 'node-c'
    const survivors = NODES.filter((n) => n !== victim)
    const orphaned = CAMERAS.filter((c) => before.get(c)!.holder === victim)
    expect(orphaned).toHaveLength(2)
    const analysedBefore = await analysed(victim)

    gw[victim].child.kill('SIGKILL')
    await gw[victim].exited
    const killedAt = Date.now()
    // Cameras that were connected to it reconnect to a survivor (HAProxy would pick one).
    for (const [cam, { node }] of clients) if (node === victim) await connectCamera(cam, survivors[0]!)

    // Frames keep coming until the survivors hold all six leases and listen for them, then two more rounds.
    let takenAt = 0
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      await round()
      const counts = await Promise.all(survivors.map(leased))
      if (counts.reduce((a, b) => a + b) === CAMERAS.length) {
        takenAt = Date.now()
        break
      }
    }
    expect(takenAt).toBeGreaterThan(0)
    for (let i = 0; i < 2; i++) await round()
    await new Promise((r) => setTimeout(r, 1000))
    const after = await holders()
    for (const cam of orphaned) {
      expect(survivors).toContain(after.get(cam)!.holder)
      expect(after.get(cam)!.token).toBeGreaterThan(before.get(cam)!.token)
    }

    // Everything the survivors were sent is settled: each frame analysed, or counted as dropped.
    const settled = async () => {
      const recs = await allRecords()
      const done = new Set(recs.map((r) => key(r.camera, r.ts)))
      return sent.filter((s) => s.ts >= takenAt && !done.has(key(s.camera, s.ts))).length === 0 ? recs : undefined
    }
    const recs = await waitFor(settled, 120_000, 500)

    // No frame analysed twice: one record per frame, each survivor wrote one per frame it analysed,
    // and none took over a record of the dead node (the record of a frame stored again is its second node's).
    for (const n of survivors) expect(await analysed(n)).toBe((await records(n)).length)
    expect((await records(victim)).length).toBeGreaterThanOrEqual(analysedBefore)

    // The dead node's cameras are analysed again by the new holder, the first frame within the bound.
    const byKey = new Map(recs.map((r) => [key(r.camera, r.ts), r.node]))
    for (const cam of orphaned) {
      const again = sent
        .filter((s) => s.camera === cam && s.ts > killedAt && byKey.has(key(s.camera, s.ts)))
        .map((s) => ({ ts: s.ts, node: byKey.get(key(s.camera, s.ts))! }))
      expect(again.length).toBeGreaterThan(0)
      for (const a of again) expect(a.node).toBe(after.get(cam)!.holder)
      // docs/operations.md: a dead node's leases move within ttl + ttl/3; the camera's next frame follows.
      expect(again[0]!.ts - killedAt).toBeLessThanOrEqual(TTL + RENEW + EVERY_MS + SLACK_MS)
    }
    // Every frame of a camera the victim did not hold, and every frame sent once the takeover was
    // done, was analysed: only the dead node's cameras lost frames, and only until the takeover.
    for (const s of sent) {
      if (!s.acked) continue
      if (!orphaned.includes(s.camera) || s.ts >= takenAt)
        expect(byKey.has(key(s.camera, s.ts)), `${s.camera}@${s.ts} from ${s.node}`).toBe(true)
    }
    const dropped = await Promise.all(survivors.map((n) => metric(n, /^iocgw_vision_frames_total\{outcome="no_holder"\} (\d+)$/m)))
    const lost = sent.filter((s) => s.acked && s.ts > killedAt && s.ts < takenAt && !byKey.has(key(s.camera, s.ts))).length
    expect(dropped.reduce((a, b) => a + b)).toBe(lost)
  }, 400_000)

  it("a camera's configuration changed through another node is applied by the node analysing it", async () => {
    const held = await holders()
    const cam = CAMERAS.find((c) => held.get(c)!.holder === 'node-a')!
    const zones = [{ id: 'whole-frame', kind: 'count', polygon: WHOLE_FRAME.polygon }]
    expect((await api('node-b', 'PUT', `/api/v1/cameras/${cam}/config`, { zones })).status).toBe(200)
    const changedAt = Date.now()
    const zoned = async () => {
      const rows = await query<{ record: string }>(
        `SELECT record FROM vision_detections WHERE camera = $1 AND ts > $2 AND node = 'node-a'`,
        [cam, changedAt],
      )
      return rows.some((r) => (JSON.parse(r.record) as { zones: Array<{ zone: string }> }).zones.some((z) => z.zone === 'whole-frame'))
    }
    // Within a lease round or two (ttl/3 each), the holder counts the camera's frames in the new zone.
    const deadline = Date.now() + 60_000
    while (!(await zoned()) && Date.now() < deadline) {
      await sendFrame(cam)
      await new Promise((r) => setTimeout(r, EVERY_MS))
    }
    expect(await zoned()).toBe(true)
  }, 120_000)
})
