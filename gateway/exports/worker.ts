import { parentPort } from 'node:worker_threads'
import { influxClient, influxQuery } from '../store/influx/client.ts'
import { influxScan } from '../store/influx/scan.ts'
import { sqliteScanFile } from '../store/sqlite/scan.ts'
import { StoreError, type QueriedPoint } from '../store/types.ts'
import { ACK, CHUNKS_IN_FLIGHT, type ExportJob, type FromWorker, type ToWorker } from './job.ts'
import { csvChunks } from './points.ts'

// An export worker thread (started by in-worker.ts): for each job, reads the store with a
// connection of its own, formats the CSV and sends it in chunks of text, at most CHUNKS_IN_FLIGHT
// ahead of the main thread's acknowledgements, so it runs only as fast as the client reads.

const port = parentPort
if (!port) throw new Error('gateway/exports/worker.ts runs only as a worker thread')
const send = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer)

let credits = 0
let wake: (() => void) | undefined
port.on('message', (m: ToWorker) => {
  if (m === ACK) {
    credits++
    const w = wake
    wake = undefined
    w?.()
    return
  }
  // One job at a time: the main thread gives a worker its next job only after `end` or `error`.
  credits = CHUNKS_IN_FLIGHT
  run(m.job).catch((err: unknown) => {
    send({ t: 'error', message: err instanceof Error ? err.message : String(err), code: err instanceof StoreError ? err.code : undefined })
  })
})

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

async function run(job: ExportJob): Promise<void> {
  let rows = 0
  for await (const text of csvChunks(pages(job), job.measurement, job.fields, (n) => (rows += n))) {
    while (credits === 0) await new Promise<void>((r) => (wake = r))
    credits--
    // Text, copied into the main thread's heap, rather than transferred bytes: a transferred
    // ArrayBuffer is memory outside the main heap, freed only when a main-thread collection finds
    // it dead, and the main thread allocates so little during an export that dead chunks piled up
    // (about 20 MB more RSS per 1,000,000 rows, measured). A string is encoded into the socket's
    // own buffer, freed once written.
    send({ t: 'chunk', text, rows })
    rows = 0
  }
  send({ t: 'end' })
}
