// The failover part of `npm run bench -- cluster` (bench/cluster.ts): devices publishing through
// HAProxy at a steady pace while a node is killed with SIGKILL; how long until every one of them
// has a PUBACK again (a PUBACK means the reading is stored: docs/mqtt.md), kill after kill.
import mqtt, { type MqttClient } from 'mqtt'
import type { RunningHaproxy } from '../test/support/haproxy.ts'
import { waitFor } from '../test/support/services.ts'
import { failoverMs } from './_cluster-figures.ts'
import { connectedDevices, type Node } from './_cluster-nodes.ts'

export interface KillResult {
  victim: string
  /** Failover devices the killed node held. */
  held: number
  /** Kill → HAProxy's health check marks the node DOWN. */
  downMs: number | undefined
  /** Kill → every device acknowledged again; undefined: not within the wait. */
  failoverMs: number | undefined
  /** Devices still without a PUBACK at the end of the wait. */
  missing: number
}

interface Device {
  client: MqttClient
  lastAck: number
  /** Recent PUBACK times (ms), oldest first. */
  acks: number[]
  /** Times the connection was lost. */
  closes: number[]
  /** Times the connection was made (CONNACK). */
  connects: number[]
  inflightSince: number | undefined
}

/**
 * `devices` connected through `url` (reconnecting every `reconnectMs` when cut off), each sending
 * one QoS 1 reading every `everyMs` while it has none in flight.
 */
export async function steadyDevices(
  url: string,
  creds: Array<{ id: string; password: string }>,
  everyMs: number,
  reconnectMs: number,
): Promise<{ devices: Device[]; close(): Promise<void> }> {
  const devices: Device[] = creds.map((c) => ({
    client: mqtt.connect(url, {
      clientId: c.id,
      username: c.id,
      password: c.password,
      protocolVersion: 4,
      reconnectPeriod: reconnectMs,
      connectTimeout: 5_000,
    }),
    lastAck: 0,
    acks: [],
    closes: [],
    connects: [],
    inflightSince: undefined,
  }))
  let ts = Date.now()
  const timers = devices.map((d, i) => {
    d.client.on('error', () => {})
    d.client.on('close', () => d.closes.push(Date.now()))
    d.client.on('connect', () => d.connects.push(Date.now()))
    return setInterval(() => {
      // A message lost with the killed node is resent by mqtt.js on reconnect (its callback then
      // fires); one that waits longer than 5 s is given up and a new one sent, so a device is
      // never stuck behind a message that no node will answer.
      if (!d.client.connected || (d.inflightSince !== undefined && Date.now() - d.inflightSince < 5_000)) return
      const sent = Date.now()
      d.inflightSince = sent
      ts = Math.max(ts + 1, sent)
      const reading = { ts, values: { water_level: 1 + (i % 100) / 100, battery: 12.5 } }
      d.client.publish(`devices/${creds[i]!.id}/telemetry`, JSON.stringify(reading), { qos: 1 }, (err) => {
        if (d.inflightSince === sent) d.inflightSince = undefined
        if (err) return
        const now = Date.now()
        d.lastAck = Math.max(d.lastAck, now)
        d.acks.push(now)
        if (d.acks.length > 2_000) d.acks.splice(0, 1_000)
      })
    }, everyMs)
  })
  await waitFor(() => devices.every((d) => d.lastAck > 0), 120_000, 100)
  return {
    devices,
    async close() {
      for (const t of timers) clearInterval(t)
      await Promise.all(devices.map((d) => d.client.endAsync(true)))
    },
  }
}

/**
 * `kills` times: waits until both nodes are UP in HAProxy and every device was acknowledged in
 * the last 2 s, kills the node holding more devices (SIGKILL), times HAProxy's DOWN and the
 * failover, then starts the node again as the same node id.
 */
export async function killLoop(opts: {
  nodes: Node[]
  haproxy: RunningHaproxy
  backend: string
  devices: Device[]
  kills: number
  waitMs: number
}): Promise<KillResult[]> {
  const results: KillResult[] = []
  for (let k = 0; k < opts.kills; k++) {
    await waitFor(
      async () => {
        for (const n of opts.nodes) if ((await opts.haproxy.serverStatus(opts.backend, n.name)) !== 'UP') return false
        return opts.devices.every((d) => Date.now() - d.lastAck < 2_000)
      },
      120_000,
      200,
    )
    const held = await Promise.all(opts.nodes.map((n) => connectedDevices(n.apiUrl)))
    const vi = held[0]! >= held[1]! ? 0 : 1
    const victim = opts.nodes[vi]!
    const killedAt = Date.now()
    await victim.kill9()
    // A device's own failover ends with its first PUBACK after its connection was last lost (a
    // PUBACK the killed node sent just before dying may still arrive after the kill), or after
    // the kill for a device the kill did not cut off.
    const firstAcks = () =>
      opts.devices.map((d) => {
        const from = Math.max(killedAt, ...d.closes.filter((t) => t > killedAt))
        return d.acks.find((t) => t > from)
      })
    let firstAck = firstAcks()
    let downAt: number | undefined
    const deadline = killedAt + opts.waitMs
    while (Date.now() < deadline && (downAt === undefined || firstAck.some((t) => t === undefined))) {
      firstAck = firstAcks()
      if (downAt === undefined && (await opts.haproxy.serverStatus(opts.backend, victim.name))?.startsWith('DOWN')) downAt = Date.now()
      await new Promise((r) => setTimeout(r, 50))
    }
    firstAck = firstAcks()
    const r: KillResult = {
      victim: victim.name,
      held: held[vi]!,
      downMs: downAt === undefined ? undefined : downAt - killedAt,
      failoverMs: failoverMs(killedAt, firstAck),
      missing: firstAck.filter((t) => t === undefined).length,
    }
    results.push(r)
    // The slowest device's path back: when it lost its connection, got one again, and its PUBACK.
    const slow = firstAck.reduce<number>((w, t, i) => ((t ?? Infinity) > (firstAck[w] ?? Infinity) ? i : w), 0)
    const d = opts.devices[slow]!
    const rel = (ts: number[]) =>
      ts
        .filter((t) => t > killedAt)
        .map((t) => t - killedAt)
        .join(', ') || '-'
    const slowest = `slowest device: connection lost at +${rel(d.closes)} ms, connected at +${rel(d.connects)} ms, first PUBACK at +${firstAck[slow] === undefined ? '-' : firstAck[slow]! - killedAt} ms`
    console.log(
      `kill ${k + 1}: ${r.victim} (held ${r.held} of ${opts.devices.length} devices): HAProxy DOWN after ${r.downMs ?? '-'} ms, ` +
        (r.failoverMs === undefined
          ? `failover NOT complete after ${opts.waitMs} ms: ${r.missing} devices without a PUBACK`
          : `every device acknowledged again after ${r.failoverMs} ms`) +
        `; ${slowest}`,
    )
    await victim.start()
  }
  return results
}
