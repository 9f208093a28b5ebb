// The reference an integrator would hand-roll: subscribe to every device's telemetry on a plain
// broker (Debian's mosquitto), turn readings into line protocol and batch them into InfluxDB.
// No checks, no de-dup, no derived values. Prints one JSON line when told to stop (SIGTERM): what
// it stored, latency samples, and when InfluxDB last accepted one of its writes.
import mqtt from 'mqtt'
import { lastAccepted, postUntilAccepted, referenceLines } from './_reference-lines.ts'

const [url, influx, db] = process.argv.slice(2) as [string, string, string]
const BATCH = 5000
const FLUSH_MS = 100
let lines: string[] = []
let times: number[] = []
let stored = 0
let inflight = 0
const latencies: number[] = []
let seen = 0

async function flush() {
  if (lines.length === 0) return
  const body = lines.join('\n')
  const ts = times
  lines = []
  times = []
  inflight++
  try {
    await postUntilAccepted(influx, db, body)
  } finally {
    inflight--
  }
  const now = Date.now()
  stored += ts.length
  for (const t of ts) {
    seen++
    if (latencies.length < 20_000) latencies.push(now - t)
    else {
      const j = Math.floor(Math.random() * seen)
      if (j < 20_000) latencies[j] = now - t
    }
  }
}

const client = await mqtt.connectAsync(url, { clientId: 'bench-subscriber', reconnectPeriod: 1000, clean: true })
await client.subscribeAsync('devices/+/telemetry', { qos: 1 })
client.on('message', (topic, payload) => {
  referenceLines(topic, payload, (line, ts) => {
    lines.push(line)
    times.push(ts)
  })
  if (lines.length >= BATCH) void flush()
})
const timer = setInterval(() => void flush(), FLUSH_MS)

process.on('SIGTERM', async () => {
  clearInterval(timer)
  await flush()
  while (inflight > 0) await new Promise((r) => setTimeout(r, 10))
  await client.endAsync()
  process.stdout.write(`${JSON.stringify({ stored, latencies, lastWrite: lastAccepted })}\n`, () => process.exit(0))
})
