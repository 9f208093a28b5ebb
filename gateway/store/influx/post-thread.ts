import { parentPort, workerData } from 'node:worker_threads'
import { PostError, WritePoster } from './write-request.ts'

// The thread that POSTs write requests to InfluxDB (started by off-thread-poster.ts): node:http,
// the request's body handed to the kernel, and its answer read, here rather than on the thread
// that acknowledges ingest.

/** Where the thread posts: given as workerData. */
export interface PostTarget {
  url: string
  authorization: string | undefined
  timeoutMs: number
  maxSockets: number
}

/** One request, from the gateway's main thread: the body's bytes, moved over. */
export interface PostJob {
  id: number
  body: ArrayBuffer
}

/**
 * Its answer: InfluxDB's status and (at most 500 characters of) its text, or why there was none;
 * `ready` once, when the thread takes requests.
 */
export type PostDone =
  { id: number; status: number; text: string } | { id: number; error: { message: string; kind: PostError['kind'] } } | { ready: true }

const port = parentPort
if (!port) throw new Error('gateway/store/influx/post-thread.ts runs only as a worker thread')
const target = workerData as PostTarget
const poster = new WritePoster(new URL(target.url), target.authorization, target.timeoutMs, target.maxSockets)

// Requests go out in the order the writer made them: each waits until the one before is with the
// kernel whole. Two in flight use two connections, and requests that arrived together (while the
// thread started) would otherwise race to InfluxDB; the writer keeps only overlapping ones apart.
let previousHandedOver: Promise<void> = Promise.resolve()
port.on('message', (job: PostJob) => {
  const body = Buffer.from(job.body)
  const turn = previousHandedOver
  let handedOver!: () => void
  previousHandedOver = new Promise<void>((r) => (handedOver = r))
  void turn
    .then(() => poster.post(body, handedOver))
    .then(
      (res) => port.postMessage({ id: job.id, status: res.status, text: res.text } satisfies PostDone),
      (err: PostError) => port.postMessage({ id: job.id, error: { message: err.message, kind: err.kind } } satisfies PostDone),
    )
})
port.postMessage({ ready: true } satisfies PostDone)
