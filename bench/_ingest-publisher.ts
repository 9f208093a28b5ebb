// Publisher process for `npm run bench -- ingest`: one MQTT connection per device, QoS 1, a
// window of messages in flight per connection, single readings or 10-reading arrays, optionally
// paced to a rate. It connects its devices, says so on stdout, then takes runs from stdin (one
// JSON line each) and answers each with one JSON line: counts and samples of publish→PUBACK
// latencies, of all messages and of those sent after the warm-up. It stays connected between
// runs, as devices do when their rate changes, and ends when stdin closes.
import { createInterface } from 'node:readline'
import mqtt, { type MqttClient } from 'mqtt'

interface Args {
  url: string
  devices: Array<{ id: string; password?: string }>
  mode: 'single' | 'array'
}

interface Run {
  seconds: number
  /** Readings per second for this process; 0 = as fast as PUBACKs come back. */
  rate: number
  window: number
  /** Wall-clock ms at which every publisher process starts sending, so the runs overlap exactly. */
  startAt: number
  /** Latencies of messages published in the first `warmupMs` are kept apart (start-up transient). */
  warmupMs: number
  /**
   * Times start after this (epoch ms): the run before may have left its times ahead of the clock,
   * and a reading at the same device and time would overwrite one of that run, not add to the count.
   */
  tsAfter: number
}

const args = JSON.parse(process.argv[2]!) as Args
const perMessage = args.mode === 'array' ? 10 : 1
const SAMPLE = 20_000

/** A uniform sample of up to SAMPLE latencies (reservoir sampling). */
function reservoir(): { xs: number[]; add(ms: number): void } {
  const xs: number[] = []
  let seen = 0
  return {
    xs,
    add(ms) {
      seen++
      if (xs.length < SAMPLE) xs.push(ms)
      else {
        const j = Math.floor(Math.random() * seen)
        if (j < SAMPLE) xs[j] = ms
      }
    },
  }
}

const clients: MqttClient[] = await Promise.all(
  args.devices.map((d) =>
    mqtt.connectAsync(args.url, { clientId: d.id, username: d.id, password: d.password, reconnectPeriod: 0, protocolVersion: 4 }),
  ),
)
let errors = 0
for (const c of clients) c.on('error', () => errors++)
// Per device, across runs: `seq` keeps increasing, as a device's does.
const seqs = clients.map(() => 0)

async function run(r: Run): Promise<void> {
  let acked = 0
  let sent = 0
  errors = 0
  const steady = reservoir()
  const all = reservoir()
  await new Promise((res) => setTimeout(res, Math.max(0, r.startAt - Date.now())))
  const start = Date.now()
  const steadyFrom = start + r.warmupMs
  const end = start + r.seconds * 1000
  // Per-connection token bucket when paced.
  const perConnRate = r.rate > 0 ? r.rate / clients.length : 0

  await Promise.all(
    clients.map(async (c, i) => {
      const id = args.devices[i]!.id
      let lastTs = r.tsAfter
      let inflight = 0
      // Woken by a PUBACK when the window is full (no busy polling: publishers share the cores).
      let wake: (() => void) | null = null
      let budget = 0
      let lastRefill = Date.now()
      while (Date.now() < end && c.connected) {
        if (perConnRate > 0) {
          const now = Date.now()
          budget = Math.min(budget + ((now - lastRefill) / 1000) * perConnRate, perMessage * 4)
          lastRefill = now
          if (budget < perMessage) {
            // Sleep until the bucket holds a message: polling every few ms from every connection
            // cost the publishers more CPU than the gateway spent, and delayed their own PUBACK
            // callbacks (the latency being measured).
            await new Promise((res) => setTimeout(res, Math.max(1, ((perMessage - budget) / perConnRate) * 1000)))
            continue
          }
          budget -= perMessage
        }
        if (inflight >= r.window) {
          await new Promise<void>((res) => (wake = res))
          continue
        }
        const readings = []
        for (let k = 0; k < perMessage; k++) {
          // Distinct times per device: a point is identified by (series, time).
          lastTs = Math.max(Date.now(), lastTs + 1)
          readings.push({ ts: lastTs, seq: seqs[i]!++, values: { water_level: 1 + (seqs[i]! % 300) / 100, battery: 12.5 } })
        }
        const t = performance.now()
        const warm = Date.now() >= steadyFrom
        inflight++
        sent += perMessage
        c.publish(`devices/${id}/telemetry`, JSON.stringify(perMessage === 1 ? readings[0] : readings), { qos: 1 }, (err) => {
          inflight--
          const w = wake
          wake = null
          w?.()
          if (err) {
            errors++
            return
          }
          acked += perMessage
          const ms = performance.now() - t
          all.add(ms)
          if (warm) steady.add(ms)
        })
        if (seqs[i]! % (perMessage * 50) === 0) await new Promise((res) => setImmediate(res))
      }
      // Let the last PUBACKs arrive.
      const stop = Date.now() + 30_000
      while (inflight > 0 && Date.now() < stop && c.connected) await new Promise((res) => setTimeout(res, 5))
      wake = null
    }),
  )
  const lastAck = Date.now()
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 10) / 10)
  process.stdout.write(
    `${JSON.stringify({ sent, acked, errors, start, lastAck, latencies: round(steady.xs), latenciesAll: round(all.xs) })}\n`,
  )
}

process.stdout.write(`${JSON.stringify({ connected: clients.length })}\n`)
for await (const line of createInterface({ input: process.stdin })) await run(JSON.parse(line) as Run)
await Promise.all(clients.map((c) => c.endAsync()))
process.exit(0)
