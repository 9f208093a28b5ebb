import { Worker } from 'node:worker_threads'
import { StoreError } from '../store/types.ts'
import { ACK, type ExportJob, type FromWorker } from './job.ts'
import type { CsvExport } from './points.ts'

// Exports of readings and detections run in a worker thread of their own (worker.ts), for two
// reasons (docs/api.md "Exports"):
// - Memory: the gateway runs with --max-semi-space-size=64 for ingest throughput
//   (gateway/cli/iocgw.js), so a million rows' worth of short-lived strings and objects made on the
//   main thread let its young generation grow towards 3 x 64 MiB of resident memory. In the worker
//   that garbage stays in a heap of its own, bounded by `resourceLimits` below and freed with it.
// - Latency: reading, merging and formatting a million rows is CPU work; off the main thread it
//   does not delay the event loop that acknowledges ingest and answers the API during an export.
// Only bytes cross over, at most CHUNKS_IN_FLIGHT chunks ahead of the client (backpressure), and a
// client that goes away ends the worker (its iteration is stopped: `finally` terminates it).

const ENTRY = new URL('./worker.js', import.meta.url)
const LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 }

export function csvInWorker(job: ExportJob): CsvExport {
  let rows = 0
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const worker = new Worker(ENTRY, { workerData: job, resourceLimits: LIMITS })
    const ready: Array<{ bytes: Uint8Array; rows: number }> = []
    let ended = false
    let failure: Error | undefined
    let wake: (() => void) | undefined
    const poke = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'chunk') ready.push({ bytes: m.bytes, rows: m.rows })
      else if (m.t === 'end') ended = true
      else failure ??= m.code ? new StoreError(m.code, m.message) : new Error(m.message)
      poke()
    })
    worker.on('error', (err) => {
      failure ??= err
      poke()
    })
    worker.on('exit', (code) => {
      if (!ended) failure ??= new Error(`the export worker stopped before the end (exit code ${code})`)
      poke()
    })
    try {
      for (;;) {
        const next = ready.shift()
        if (next) {
          rows += next.rows
          yield Buffer.from(next.bytes.buffer, next.bytes.byteOffset, next.bytes.byteLength)
          worker.postMessage(ACK)
          continue
        }
        if (failure) throw failure
        if (ended) return
        await new Promise<void>((r) => (wake = r))
      }
    } finally {
      void worker.terminate()
    }
  }
  return { chunks: chunks(), rows: () => rows }
}
