import { parentPort, workerData } from 'node:worker_threads'
import { influxClient, influxQuery } from '../store/influx/client.ts'
import { influxScan } from '../store/influx/scan.ts'
import { sqliteScanFile } from '../store/sqlite/scan.ts'
import { StoreError, type QueriedPoint } from '../store/types.ts'
import { ACK, CHUNKS_IN_FLIGHT, type ExportJob, type FromWorker, type ToWorker } from './job.ts'
import { csvChunks } from './points.ts'

// An export worker thread (started by in-worker.ts): for each job, reads the store with a
// connection of its own, formats the CSV and sends it as UTF-8 chunks, at most CHUNKS_IN_FLIGHT
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
  const encoder = new TextEncoder()
  let rows = 0
  for await (const text of csvChunks(pages(job), job.measurement, job.fields, (n) => (rows += n))) {
    while (credits === 0) await new Promise<void>((r) => (wake = r))
    credits--
    // Encoded here, so the main thread only hands bytes to the socket; transferred, not copied.
    const bytes = encoder.encode(text)
    send({ t: 'chunk', bytes, rows }, [bytes.buffer as ArrayBuffer])
    rows = 0
  }
  send({ t: 'end' })
}
