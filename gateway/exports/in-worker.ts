import { Worker } from 'node:worker_threads'
import { StoreError } from '../store/types.ts'
import { RING_SLOTS, SLOT_BYTES, type ExportJob, type FromWorker, type ToWorker } from './job.ts'
import type { CsvExport } from './csv.ts'

// Exports of readings and detections run in a worker thread (worker.ts), for two reasons
// (docs/api.md "Exports"):
// - Memory: the gateway runs with --max-semi-space-size=64 for ingest throughput
//   (gateway/cli/iocgw.js), so a million rows' worth of short-lived strings and objects made on the
//   main thread let its young generation grow towards 3 x 64 MiB of resident memory. In the worker
//   that garbage stays in a small heap of its own, bounded by `resourceLimits` below.
// - Latency: reading, merging and formatting a million rows is CPU work; off the main thread it
//   does not delay the event loop that acknowledges ingest and answers the API during an export.
// Only the CSV bytes cross over, through a ring of RING_SLOTS shared memory slots per job (see
// worker.ts for why): the main thread lends a slot's bytes to the response and gives the slot back
// once the response asks for the next chunk, that is once those bytes are written out. A client
// that goes away ends the worker: its scan stops there. A worker that finished its export is kept
// for the next one (one idle at most): starting a thread that runs the TypeScript sources costs
// about 40 MB of resident memory (measured: its own V8 isolate and TypeScript loader), more than
// the export itself.

const ENTRY = new URL('./worker.js', import.meta.url)
const LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 }

let idle: Worker | undefined
const live = new Set<Worker>()

/** Export worker threads running now, busy or idle. */
export function exportWorkers(): number {
  return live.size
}

function take(): Worker {
  const w = idle
  idle = undefined
  if (w) return w
  const spawned = new Worker(ENTRY, { resourceLimits: LIMITS })
  // An idle worker must not keep the gateway from exiting.
  spawned.unref()
  // A worker failing while idle only ends (an 'error' event with no listener would throw here);
  // during a job the job's own listener reports it.
  spawned.on('error', () => {})
  live.add(spawned)
  spawned.once('exit', () => {
    live.delete(spawned)
    if (idle === spawned) idle = undefined
  })
  return spawned
}

function giveBack(w: Worker): void {
  if (idle) void w.terminate()
  else idle = w
}

export function csvInWorker(job: ExportJob): CsvExport {
  let rows = 0
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const worker = take()
    const ring = new SharedArrayBuffer(RING_SLOTS * SLOT_BYTES)
    const ready: Array<{ slot: number; bytes: number; rows: number }> = []
    let ended = false
    let failure: Error | undefined
    let wake: (() => void) | undefined
    const poke = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    const onMessage = (m: FromWorker) => {
      if (m.t === 'chunk') ready.push(m)
      else if (m.t === 'end') ended = true
      else failure ??= m.code ? new StoreError(m.code, m.message) : new Error(m.message)
      poke()
    }
    const onError = (err: Error) => {
      failure ??= err
      poke()
    }
    const onExit = (code: number) => {
      failure ??= new Error(`the export worker stopped before the end (exit code ${code})`)
      poke()
    }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit)
    const post = (m: ToWorker) => worker.postMessage(m)
    post({ t: 'job', job, ring })
    let done = false
    try {
      for (;;) {
        const next = ready.shift()
        if (next) {
          rows += next.rows
          // Lent until the consumer asks for the next chunk (CsvExport.chunks).
          yield new Uint8Array(ring, next.slot * SLOT_BYTES, next.bytes)
          post({ t: 'free', slot: next.slot })
          continue
        }
        if (ended) break
        if (failure) throw failure
        await new Promise<void>((r) => (wake = r))
      }
      done = true
    } finally {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit)
      // Only a worker that finished its job cleanly serves again; any other is stopped mid-scan.
      if (done && !failure) giveBack(worker)
      else void worker.terminate()
    }
  }
  return { chunks: chunks(), rows: () => rows }
}
