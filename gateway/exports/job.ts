import type { ScanSource, StoreError } from '../store/types.ts'

// The messages between an export's worker (worker.ts) and the main thread (in-worker.ts), and the
// shared memory the CSV bytes travel through.

export interface ExportJob {
  source: ScanSource
  measurement: 'readings' | 'detections'
  /** The CSV's field columns, as the store's scan listed them on the main thread. */
  fields: string[]
}

/**
 * Worker to main thread. A `chunk` is `bytes` of UTF-8 in slot `slot` of the job's ring; the main
 * thread answers `free` with that slot once the bytes have left the process.
 */
export type FromWorker =
  | { t: 'chunk'; slot: number; bytes: number; rows: number }
  | { t: 'end' }
  | { t: 'error'; message: string; code?: StoreError['code'] | undefined }

/** Main thread to worker: a job with the ring its CSV goes through, or a slot given back. */
export type ToWorker = { t: 'job'; job: ExportJob; ring: SharedArrayBuffer } | { t: 'free'; slot: number }

/** Slots of a job's ring: how far the worker may run ahead of the client. */
export const RING_SLOTS = 4
/** Bytes of one slot: big enough to cost little per write, small enough to keep memory flat. */
export const SLOT_BYTES = 64 * 1024
