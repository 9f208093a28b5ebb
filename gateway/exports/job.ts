import type { ScanSource, StoreError } from '../store/types.ts'

// The messages between an export's worker (worker.ts) and the main thread (in-worker.ts).

export interface ExportJob {
  source: ScanSource
  measurement: 'readings' | 'detections'
  /** The CSV's field columns, as the store's scan listed them on the main thread. */
  fields: string[]
}

/** Worker to main thread. The main thread answers each `chunk` with `ACK` once it has passed it on. */
export type FromWorker =
  { t: 'chunk'; text: string; rows: number } | { t: 'end' } | { t: 'error'; message: string; code?: StoreError['code'] | undefined }

export const ACK = 'ack'

/** Main thread to worker: a job, or the acknowledgement of a chunk. */
export type ToWorker = { t: 'job'; job: ExportJob } | typeof ACK

/** Chunks a worker may have sent and not yet seen acknowledged: what an export holds between the threads. */
export const CHUNKS_IN_FLIGHT = 4
