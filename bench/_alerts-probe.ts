// Probe child for bench/alerts.ts: an eSMS stand-in (domain/notify-providers.md request and
// answer) and the gauge that breaches. It times each breaching publish to the moment the stand-in
// receives the SMS request, on one monotonic clock (process.hrtime is CLOCK_MONOTONIC, so both
// ends are in this process anyway).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import mqtt from 'mqtt'

interface Job {
  port: number
  device: string
  secret: string
  samples: number
  intervalMs: number
}

let waiting: { t0: bigint; resolve: (ms: number) => void } | undefined
const marks: Array<[string, string]> = []
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const at = process.hrtime.bigint()
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Content?: string; RequestId?: string }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ CodeResult: '100', SMSID: body.RequestId }))
    // Only the opening message of each breach counts (the resolution also sends one).
    if (waiting && body.Content?.includes('CANH BAO MOI')) {
      const w = waiting
      waiting = undefined
      marks.push([String(w.t0), String(at)])
      w.resolve(Number(at - w.t0) / 1e6)
    }
  })
})

async function run(job: Job): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${job.port}`, {
    username: job.device,
    password: job.secret,
    clientId: `${job.device}:probe`,
    reconnectPeriod: 0,
  })
  const latencies: number[] = []
  let seq = 1_000_000 + Math.floor(Math.random() * 1_000_000)
  const publish = (level: number) =>
    client.publishAsync(`devices/${job.device}/telemetry`, JSON.stringify({ ts: Date.now(), seq: ++seq, values: { water_level: level } }), {
      qos: 1,
    })
  let lost = 0
  for (let i = 0; i < job.samples; i++) {
    const got = new Promise<number>((resolve) => {
      waiting = { t0: process.hrtime.bigint(), resolve }
    })
    await publish(1.5)
    const ms = await Promise.race([got, new Promise<number>((r) => setTimeout(() => r(-1), 5000))])
    if (ms < 0) lost++
    else latencies.push(ms)
    waiting = undefined
    await new Promise((r) => setTimeout(r, job.intervalMs / 2))
    await publish(0.5)
    await new Promise((r) => setTimeout(r, job.intervalMs / 2))
  }
  await client.endAsync()
  process.send!({ done: { latencies, lost, marks: marks.splice(0) } })
}

server.listen(0, '127.0.0.1', () => {
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/esms/` })
})
process.on('message', (msg: { job?: Job; cmd?: string }) => {
  if (msg.job) void run(msg.job)
  if (msg.cmd === 'stop') process.exit(0)
})
