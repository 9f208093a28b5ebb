import { parentPort } from 'node:worker_threads'
import { influxClient, influxQuery } from '../store/influx/client.ts'
import { influxScan } from '../store/influx/scan.ts'
import { sqliteScanFile } from '../store/sqlite/scan.ts'
import { StoreError, type QueriedPoint } from '../store/types.ts'
import { RING_SLOTS, SLOT_BYTES, type ExportJob, type FromWorker, type ToWorker } from './job.ts'
import { csvChunks } from './points.ts'

// An export worker thread (started by in-worker.ts): for each job, reads the store with a
// connection of its own, formats the CSV and encodes it into the job's ring of shared memory slots,
// one slot per message; it waits for a free slot, so it runs only as fast as the client reads.

const port = parentPort
if (!port) throw new Error('gateway/exports/worker.ts runs only as a worker thread')
const send = (m: FromWorker) => port.postMessage(m)
const encoder = new TextEncoder()

let free: number[] = []
let wake: (() => void) | undefined
port.on('message', (m: ToWorker) => {
  if (m.t === 'free') {
    free.push(m.slot)
    const w = wake
    wake = undefined
    w?.()
    return
  }
  // One job at a time: the main thread gives a worker its next job only after `end` or `error`.
  free = Array.from({ length: RING_SLOTS }, (_, i) => i)
  run(m.job, new Uint8Array(m.ring)).catch((err: unknown) => {
    send({ t: 'error', message: err instanceof Error ? err.message : String(err), code: err instanceof StoreError ? err.code : undefined })
  })
})

async function slot(): Promise<number> {
  while (free.length === 0) await new Promise<void>((r) => (wake = r))
  return free.shift()!
}

function pages(job: ExportJob): AsyncIterable<QueriedPoint[]> {
  const s = job.source
  if (s.store === 'sqlite') {
    return (async function* () {
      yield* sqliteScanFile(s.file, s.series, s.fields, s.from, s.to)
    })()
  }
  const { influx, database } = influxClient(s.url, s.requestTimeoutMs)
  return influxScan((query) => influxQuery(influx, database, query), s.plan)
}

async function run(job: ExportJob, ring: Uint8Array): Promise<void> {
  let rows = 0
  for await (let text of csvChunks(pages(job), job.measurement, job.fields, (n) => (rows += n))) {
    // Shared slots rather than messages of text or transferred buffers: either one is a fresh
    // allocation per chunk on the main thread, freed only when its garbage collector gets to it,
    // and under CPU contention those piled up to some 30 MB more resident memory per export
    // (measured). A slot is reused once its bytes are written out, so an export allocates nothing
    // per chunk on either thread. A chunk whose UTF-8 overflows a slot continues in the next one;
    // encodeInto stops between characters.
    while (text.length > 0) {
      const s = await slot()
      const { read, written } = encoder.encodeInto(text, ring.subarray(s * SLOT_BYTES, (s + 1) * SLOT_BYTES))
      text = text.slice(read)
      send({ t: 'chunk', slot: s, bytes: written, rows: text.length === 0 ? rows : 0 })
    }
    rows = 0
  }
  send({ t: 'end' })
}
