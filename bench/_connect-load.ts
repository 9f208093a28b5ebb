// Load generator child for bench/connect.ts. Opens one MQTT connection per credential it is given,
// `window` CONNECTs in flight at a time, and keeps them open until told to stop. Raw sockets and
// mqtt-packet keep the client side light, so the broker is what gets measured.
import { connect, type Socket } from 'node:net'
import { connectPacket } from '../test/support/mqtt-wire.ts'

interface Job {
  port: number
  creds: Array<[string, string]>
  window: number
}

const sockets: Socket[] = []

function connectOne(port: number, id: string, secret: string): Promise<number> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true })
    sockets.push(s)
    let done = false
    const finish = (rc: number) => {
      if (!done) {
        done = true
        resolve(rc)
      }
    }
    s.on('connect', () => {
      // keepalive 0: no PINGREQ traffic while the connections sit idle for the RSS reading.
      s.write(connectPacket({ clientId: id, username: id, password: secret, keepalive: 0 }))
    })
    s.on('data', (buf: Buffer) => {
      // CONNACK: 0x20 0x02 <flags> <return code> (clause 3.2)
      if (buf[0] === 0x20 && buf.length >= 4) finish(buf[3]!)
    })
    s.on('error', () => finish(-1))
    s.on('close', () => finish(-2))
  })
}

async function run(job: Job): Promise<void> {
  let next = 0
  let ok = 0
  let failed = 0
  const start = Date.now()
  async function lane(): Promise<void> {
    while (next < job.creds.length) {
      const [id, secret] = job.creds[next++]!
      const rc = await connectOne(job.port, id, secret)
      if (rc === 0) ok++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: job.window }, lane))
  process.send!({ done: { ok, failed, start, end: Date.now() } })
}

process.on('message', (msg: { job?: Job; cmd?: string }) => {
  if (msg.job) void run(msg.job)
  if (msg.cmd === 'stop') {
    for (const s of sockets) s.destroy()
    process.exit(0)
  }
})
process.send!({ ready: true })
