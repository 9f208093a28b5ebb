// Background load child for bench/alerts.ts: devices publish 10-reading arrays over MQTT (QoS 1,
// a bounded window of unacknowledged messages per device) at a target total rate of readings/s.
import mqtt, { type MqttClient } from 'mqtt'

interface Job {
  port: number
  creds: Array<[string, string, 'water_level' | 'rain_gauge']>
  readingsPerSecond: number
  batch: number
  seconds: number
}

let stopped = false

async function run(job: Job): Promise<void> {
  const clients: MqttClient[] = await Promise.all(
    job.creds.map(([id, secret]) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${job.port}`, { username: id, password: secret, reconnectPeriod: 0, clientId: id }),
    ),
  )
  const msgsPerSecond = job.readingsPerSecond / job.batch
  const perClient = msgsPerSecond / clients.length
  const tickMs = 20
  let sent = 0
  let acked = 0
  const inflight = new Array<number>(clients.length).fill(0)
  const seq = new Array<number>(clients.length).fill(0)
  const start = Date.now()
  let owed = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (Date.now() - start) / 1000
      if (elapsed >= job.seconds || stopped) {
        clearInterval(timer)
        resolve()
        return
      }
      owed += (perClient * clients.length * tickMs) / 1000
      let k = 0
      while (owed >= 1) {
        const i = (sent + k) % clients.length
        k++
        if (inflight[i]! >= 50) {
          if (k > clients.length) break
          continue
        }
        owed -= 1
        const [id, , kind] = job.creds[i]!
        const now = Date.now()
        const readings = Array.from({ length: job.batch }, (_, j) => {
          seq[i]!++
          const values = kind === 'rain_gauge' ? { rainfall: 0, interval_s: 1 } : { water_level: 0.4 + (seq[i]! % 10) / 100, battery: 12.5 }
          return { ts: now - (job.batch - j) * 10, seq: seq[i], values }
        })
        inflight[i]!++
        sent++
        clients[i]!.publish(`devices/${id}/telemetry`, JSON.stringify(readings), { qos: 1 }, () => {
          inflight[i]!--
          acked++
        })
      }
      if (owed > msgsPerSecond) owed = msgsPerSecond // behind by a second: do not build an unbounded debt
    }, tickMs)
  })
  const seconds = (Date.now() - start) / 1000
  await new Promise((r) => setTimeout(r, 500))
  process.send!({ done: { sentReadings: sent * job.batch, ackedReadings: acked * job.batch, seconds } })
  await Promise.all(clients.map((c) => c.endAsync()))
  process.exit(0)
}

process.on('message', (msg: { job?: Job; cmd?: string }) => {
  if (msg.job) void run(msg.job)
  if (msg.cmd === 'stop') stopped = true
})
