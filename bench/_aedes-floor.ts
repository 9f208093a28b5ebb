// The floor under the gateway: the same embedded broker (aedes, the gateway's version and
// options) and the reference subscriber's work (JSON to line protocol, batched InfluxDB writes) in
// one Node process, and nothing else: no authentication, checks, de-dup, derived values, alert
// rules or metrics. `ack` says when PUBACK goes out:
//   - `stored`: once the batch holding the message is written (the gateway's rule), PUBACKs of a
//     batch corked into one write per connection as the gateway does;
//   - `at-once`: as soon as the message arrives (mosquitto's rule).
// Whatever this process reaches bounds what any gateway built on aedes and Node can reach here.
// Prints its port once listening, and on SIGTERM one JSON line with the time InfluxDB last
// accepted one of its writes.
import { Aedes, type Client, type PublishPacket } from 'aedes'
import { createServer } from 'node:net'
import { lastAccepted, postUntilAccepted, referenceLines } from './_reference-lines.ts'

const [influx, db, ackArg] = process.argv.slice(2) as [string, string, string]
const ack = ackArg === 'at-once' ? 'at-once' : 'stored'
const BATCH = 5000

// Lines in chunks of at most BATCH: with PUBACK at once they pile up faster than they are
// written, and taking one chunk costs nothing whatever lies behind it.
const chunks: string[][] = [[]]
let pendingLines = 0
let waiting: Array<() => void> = []
let writing = false
let scheduled = false

function push(line: string): void {
  let last = chunks[chunks.length - 1]!
  if (last.length >= BATCH) chunks.push((last = []))
  last.push(line)
  pendingLines++
}

async function flush(): Promise<void> {
  if (writing || pendingLines === 0) return
  writing = true
  // At once: one chunk a request. Once stored: every waiting message's lines in one request
  // (bounded by the publishers' windows), so each PUBACK follows its own lines.
  const taken = ack === 'at-once' ? chunks.splice(0, 1) : chunks.splice(0, chunks.length)
  if (chunks.length === 0) chunks.push([])
  const body = taken.map((c) => c.join('\n')).join('\n')
  for (const c of taken) pendingLines -= c.length
  const done = waiting
  waiting = []
  try {
    await postUntilAccepted(influx, db, body)
  } finally {
    writing = false
  }
  for (const d of done) d()
  // Like the gateway's store (one write in flight, no flush interval): the next batch goes as
  // soon as the previous one is answered.
  void flush()
}

function flushSoon(): void {
  if (scheduled) return
  scheduled = true
  setImmediate(() => {
    scheduled = false
    void flush()
  })
}

const corked = new Set<Client>()
function corkUntilTick(client: Client): void {
  const conn = client.conn as unknown as { cork(): void; uncork(): void }
  if (corked.has(client)) return
  conn.cork()
  corked.add(client)
  if (corked.size === 1) {
    process.nextTick(() => {
      for (const c of corked) (c.conn as unknown as { uncork(): void }).uncork()
      corked.clear()
    })
  }
}

const broker = await Aedes.createBroker({
  concurrency: 200,
  authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void) {
    if (!packet.topic.endsWith('/telemetry')) return cb(null)
    referenceLines(packet.topic, packet.payload as Buffer, push)
    if (ack === 'at-once' || client === null) cb(null)
    else
      waiting.push(() => {
        corkUntilTick(client)
        cb(null)
      })
    if (pendingLines >= BATCH) void flush()
    else flushSoon()
  },
})
const server = createServer(broker.handle)
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  console.log(JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 }))
})

process.on('SIGTERM', async () => {
  while (writing || pendingLines > 0) {
    await flush()
    await new Promise((r) => setTimeout(r, 10))
  }
  server.close()
  broker.close()
  process.stdout.write(`${JSON.stringify({ done: true, lastWrite: lastAccepted })}\n`, () => process.exit(0))
})
