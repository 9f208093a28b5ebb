// A node of three killed with SIGKILL while devices publish through HAProxy (docs/operations.md
// "Several nodes"): real PostgreSQL, Redis, influxd, HAProxy (TCP, PROXY v2, /readyz checks) and
// `iocgw start` children; registered devices publishing QoS 1 telemetry with real mqtt clients
// that reconnect. What must hold:
// - every client reconnects through HAProxy to a node still up;
// - every reading whose PUBACK the device received is in InfluxDB exactly once (docs/mqtt.md
//   "Acknowledgement (QoS 1)": a PUBACK means stored);
// - a persistent integration session (clean session 0, QoS 1) that was on the killed node gets
//   the messages queued meanwhile after reconnecting to another node ("MQTT across nodes");
// - the killed node's devices that do not come back show offline (retained status) within about
//   7 × redis.heartbeatMs, and those that came back elsewhere stay online.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expectStoredOnce,
  connectOnce,
  deviceOptions,
  onlineStatus,
  Publisher,
  registerDevice,
  retainedStatuses,
  type Registered,
} from '../support/cluster-clients.ts'
import {
  CLUSTER_ADMIN,
  errorLines,
  HEARTBEAT_MS,
  haveClusterServices,
  useClusterFront,
  type ClusterNode,
} from '../support/cluster-nodes.ts'
import { waitFor } from '../support/services.ts'

const PUBLISHERS = 6
/** Devices on the killed node that do not come back: the first with an offline will, the others without. */
const SLEEPERS = 3
const INTERVAL_MS = 250
/** The documented bound for a dead node's wills, and a margin for a loaded test box. */
const WILL_BOUND_MS = 7 * HEARTBEAT_MS
const MARGIN_MS = 8_000

describe.skipIf(!haveClusterServices())('a node killed while devices publish through HAProxy', () => {
  const c = useClusterFront(3)
  const pubDevices: Registered[] = []
  const sleeperDevices: Registered[] = []
  let token = { id: '', secret: '' }
  const clients: MqttClient[] = []
  const publishers: Publisher[] = []

  beforeAll(async () => {
    const first = c.nodes[0]!
    const api = (m: string, p: string, b?: unknown) => c.api(first, m, p, b)
    for (let i = 1; i <= PUBLISHERS; i++) pubDevices.push(await registerDevice(api, `pub-0${i}`))
    for (let i = 1; i <= SLEEPERS; i++) sleeperDevices.push(await registerDevice(api, `sleep-0${i}`))
    const res = await api('POST', '/tokens', { role: 'officer', name: 'failover integration' })
    expect(res.status).toBe(201)
    const t = (await res.json()) as { id: string; token: string }
    token = { id: t.id, secret: t.token }
  }, 600_000)

  afterAll(async () => {
    for (const p of publishers) await p.end()
    for (const cl of clients) await cl.endAsync(true).catch(() => {})
  }, 120_000)

  const url = (port: number) => `mqtt://127.0.0.1:${port}`
  const devicesOn = async (n: ClusterNode): Promise<number> => {
    const r = await fetch(`${n.gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${CLUSTER_ADMIN}` } })
    return Number(/^iocgw_mqtt_connected_clients\{kind="device"\} (\d+)$/m.exec(await r.text())?.[1] ?? 0)
  }

  it('keeps every acknowledged reading once, resumes the persistent session elsewhere, and marks the lost devices offline', async () => {
    const [n1, , victim] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
    const integration = { username: 'token', password: token.secret }

    // An observer of statuses on a node that stays up.
    const { client: observer } = await connectOnce(url(c.front.pin[n1.id]!), {
      ...integration,
      clientId: `${token.id}:observer`,
      clean: true,
    })
    clients.push(observer)
    const offlineAt = new Map<string, number>()
    let killedAt = Number.POSITIVE_INFINITY
    observer.on('message', (topic, payload) => {
      const id = /^devices\/([^/]+)\/status$/.exec(topic)?.[1]
      const s = JSON.parse(payload.toString()) as { online?: boolean }
      if (id && s.online === false && Date.now() >= killedAt && !offlineAt.has(id)) offlineAt.set(id, Date.now())
    })
    await observer.subscribeAsync('devices/+/status', { qos: 1 })

    // The persistent integration session, on the node that will be killed.
    const subId = `${token.id}:failover`
    const received = new Map<string, Set<number>>()
    const onTelemetry = (topic: string, payload: Buffer) => {
      const id = /^devices\/([^/]+)\/telemetry$/.exec(topic)?.[1]
      if (!id) return
      const { seq } = JSON.parse(payload.toString()) as { seq: number }
      if (!received.has(id)) received.set(id, new Set())
      received.get(id)!.add(seq)
    }
    const firstSub = await connectOnce(url(c.front.pin[victim.id]!), { ...integration, clientId: subId, clean: false }, onTelemetry)
    clients.push(firstSub.client)
    firstSub.client.on('error', () => {})
    await firstSub.client.subscribeAsync('devices/+/telemetry', { qos: 1 })

    // Devices that will not come back, on the node that will be killed. Without a will, the
    // gateway says offline for the device (docs/mqtt.md "devices/{id}/status").
    for (const [i, d] of sleeperDevices.entries()) {
      const opts = { ...deviceOptions(d), reconnectPeriod: 0 }
      if (i > 0) delete opts.will
      const { client } = await connectOnce(url(c.front.pin[victim.id]!), opts)
      client.on('error', () => {})
      clients.push(client)
      await client.publishAsync(`devices/${d.id}/status`, onlineStatus, { qos: 1, retain: true })
    }

    // Publishers through the balanced frontend: leastconn spreads them over the three nodes.
    for (const d of pubDevices) {
      const p = new Publisher(d, url(c.front.mqtt), INTERVAL_MS)
      publishers.push(p)
      await p.ready()
    }
    expect(await devicesOn(victim)).toBeGreaterThanOrEqual(SLEEPERS + 1)
    for (const p of publishers) p.start()
    await waitFor(() => publishers.every((p) => p.acked.size >= 8), 120_000, 100)

    victim.gw.child.kill('SIGKILL')
    killedAt = Date.now()
    await victim.gw.exited
    const onVictim = () => publishers.filter((p) => p.closes > 0)
    await waitFor(() => onVictim().length > 0, 30_000, 50)
    await waitFor(async () => (await c.front.status(victim.id))?.startsWith('DOWN'), 30_000, 100)

    // Every publisher reconnects through HAProxy and goes on being acknowledged.
    const ackedAtKill = new Map(publishers.map((p) => [p, p.acked.size]))
    await waitFor(() => publishers.every((p) => p.connected && p.acked.size >= ackedAtKill.get(p)! + 8), 120_000, 100)
    for (const p of onVictim()) expect(p.connects, p.device.id).toBeGreaterThanOrEqual(2)

    // The persistent session comes back on another node with what was queued meanwhile.
    const ackedBeforeResume = new Map(publishers.map((p) => [p.device.id, new Set(p.acked.keys())]))
    // Listening from the start: the queued messages may come with the CONNACK.
    const again = await connectOnce(url(c.front.mqtt), { ...integration, clientId: subId, clean: false }, onTelemetry)
    clients.push(again.client)
    expect(again.sessionPresent).toBe(true)
    expect(await devicesOn(victim).catch(() => -1)).toBe(-1)

    // The killed node's devices that did not come back are offline within the documented bound.
    await waitFor(() => sleeperDevices.every((d) => offlineAt.has(d.id)), WILL_BOUND_MS + MARGIN_MS + 30_000, 100).catch(() => undefined)
    expect(
      sleeperDevices.filter((d) => !offlineAt.has(d.id)).map((d) => d.id),
      'never said offline',
    ).toEqual([])
    for (const d of sleeperDevices) expect(offlineAt.get(d.id)! - killedAt, d.id).toBeLessThanOrEqual(WILL_BOUND_MS + MARGIN_MS)

    for (const p of publishers) await p.stop()

    // Every message acknowledged while the subscriber was away reached it on its new node, and
    // so did every other one acknowledged since it first subscribed.
    await waitFor(
      () => publishers.every((p) => [...p.acked.keys()].every((seq) => received.get(p.device.id)?.has(seq))),
      60_000,
      200,
    ).catch(() => undefined)
    // Every publisher's misses at once, each seq marked by when it was acknowledged: before the
    // kill (k), while the subscriber was away (q: queued for it), or after it resumed (l: live).
    const missed: Record<string, string> = {}
    for (const p of publishers) {
      const away = ackedBeforeResume.get(p.device.id)!
      const lost = [...p.acked.keys()].filter((seq) => !received.get(p.device.id)?.has(seq))
      if (lost.length > 0)
        missed[p.device.id] = lost.map((seq) => `${seq <= ackedAtKill.get(p)! ? 'k' : away.has(seq) ? 'q' : 'l'}${seq}`).join(' ')
    }
    expect(missed, 'acknowledged, never delivered to the persistent session').toEqual({})
    for (const p of publishers) {
      const queued = [...ackedBeforeResume.get(p.device.id)!].filter((seq) => seq > ackedAtKill.get(p)!)
      expect(queued.length, p.device.id).toBeGreaterThan(0)
    }

    // InfluxDB: every acknowledged reading once, at the time the device gave.
    await expectStoredOnce(c.influxd, publishers)

    // Two more will sweeps: the killed node's wills of the devices that came back elsewhere must
    // not have overwritten their online status.
    await new Promise((r) => setTimeout(r, 8 * HEARTBEAT_MS))
    const statuses = await retainedStatuses(
      url(c.front.mqtt),
      { ...integration, clientId: `${token.id}:statuses` },
      [...pubDevices, ...sleeperDevices].map((d) => d.id),
    )
    for (const d of sleeperDevices) expect(statuses[d.id], d.id).toMatchObject({ online: false })
    for (const d of pubDevices) expect(statuses[d.id], d.id).toMatchObject({ online: true })
    // The nodes that stayed up took the failover without an error (a refused will, a failed sweep).
    for (const n of c.nodes.filter((x) => x !== victim)) expect(errorLines(n.gw.output()), n.id).toEqual([])
  }, 400_000)
})
