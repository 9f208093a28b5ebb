import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import ffmpeg from 'fluent-ffmpeg'
import sharp from 'sharp'

// Frame sources for the camera agent. Each emits 'frame' (JPEG, capture time), 'up' when frames
// flow again and 'down' (reason) when the camera stops answering; it reconnects by itself with
// exponential backoff until stopped.

export interface CaptureEvents {
  frame: [Buffer, number]
  up: []
  down: [string]
}

export interface CaptureOptions {
  intervalS: number
  maxWidth: number
  /** JPEG quality 1..100. */
  quality: number
  backoff: { initialMs: number; maxMs: number }
  /** No frame for this long means the camera is gone (default max(10 s, 3 intervals)). */
  stallMs?: number | undefined
}

export interface FrameSource extends EventEmitter<CaptureEvents> {
  start(): void
  stop(): Promise<void>
  readonly online: boolean
}

/** ffmpeg's MJPEG qscale (2 best .. 31 worst) for a 1..100 quality, linear. */
export function qscale(quality: number): number {
  return Math.round(2 + ((100 - Math.min(100, Math.max(1, quality))) * 29) / 99)
}

/**
 * Splits ffmpeg's image2pipe MJPEG output into JPEGs at their EOI markers. Inside entropy-coded
 * data every 0xFF is followed by a stuffed 0x00 (ITU-T T.81 B.1.1.5), so FF D9 only ends an image.
 */
export class JpegSplitter {
  private buf: Buffer = Buffer.alloc(0)
  private scan = 0
  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    const out: Buffer[] = []
    for (;;) {
      const start = this.buf.indexOf(SOI)
      if (start < 0) {
        // Keep a trailing FF: it may be the first half of the next SOI.
        this.buf = this.buf.length && this.buf[this.buf.length - 1] === 0xff ? this.buf.subarray(this.buf.length - 1) : Buffer.alloc(0)
        this.scan = 0
        return out
      }
      const end = this.buf.indexOf(EOI, Math.max(start + 2, this.scan))
      if (end < 0) {
        if (start > 0) {
          this.buf = this.buf.subarray(start)
          this.scan = 0
        }
        this.scan = Math.max(0, this.buf.length - 1)
        // A frame that never ends is garbage; start over rather than grow without bound.
        if (this.buf.length > this.maxBytes) {
          this.buf = Buffer.alloc(0)
          this.scan = 0
        }
        return out
      }
      out.push(Buffer.from(this.buf.subarray(start, end + 2)))
      this.buf = this.buf.subarray(end + 2)
      this.scan = 0
    }
  }
}
const SOI = Buffer.from([0xff, 0xd8])
const EOI = Buffer.from([0xff, 0xd9])

abstract class BaseSource extends EventEmitter<CaptureEvents> implements FrameSource {
  protected stopped = true
  private up = false
  private attempt = 0
  private retryTimer: NodeJS.Timeout | null = null
  private stallTimer: NodeJS.Timeout | null = null
  protected readonly stallMs: number

  constructor(protected readonly o: CaptureOptions) {
    super()
    this.stallMs = o.stallMs ?? Math.max(10_000, 3 * o.intervalS * 1000)
  }

  get online(): boolean {
    return this.up
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.stallTimer) clearTimeout(this.stallTimer)
    await this.disconnect()
  }

  protected abstract connect(): void
  protected abstract disconnect(): Promise<void>

  protected gotFrame(jpeg: Buffer, ts: number): void {
    if (this.stopped) return
    this.attempt = 0
    if (!this.up) {
      this.up = true
      this.emit('up')
    }
    this.armStall()
    this.emit('frame', jpeg, ts)
  }

  protected armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer)
    this.stallTimer = setTimeout(() => this.failed(`no frame for ${this.stallMs} ms`), this.stallMs)
    this.stallTimer.unref()
  }

  /** The source broke: report it once, tear down, and try again after the backoff. */
  protected failed(reason: string): void {
    if (this.stopped) return
    if (this.stallTimer) clearTimeout(this.stallTimer)
    if (this.up) {
      this.up = false
      this.emit('down', reason)
    } else if (this.attempt === 0) {
      this.emit('down', reason)
    }
    void this.disconnect().then(() => {
      if (this.stopped || this.retryTimer) return
      // Exponential backoff with jitter, capped (a camera rebooting takes tens of seconds).
      const base = Math.min(this.o.backoff.maxMs, this.o.backoff.initialMs * 2 ** this.attempt)
      const delay = Math.round(base * (0.8 + Math.random() * 0.4))
      this.attempt++
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null
        if (!this.stopped) this.connect()
      }, delay)
    })
  }
}

/**
 * One long-running ffmpeg per RTSP camera (session setup costs more than a frame): it decodes
 * the stream, keeps one frame every `intervalS` (fps filter), scales to at most `maxWidth` and
 * writes MJPEG to a pipe.
 */
export class RtspSource extends BaseSource {
  private cmd: ffmpeg.FfmpegCommand | null = null
  private exited: Promise<void> = Promise.resolve()

  constructor(
    private readonly url: string,
    o: CaptureOptions,
    private readonly ffmpegPath?: string,
  ) {
    super(o)
  }

  protected connect(): void {
    const out = new PassThrough()
    const splitter = new JpegSplitter()
    let resolveExit!: () => void
    this.exited = new Promise((r) => (resolveExit = r))
    const cmd = ffmpeg(this.url)
    if (this.ffmpegPath) cmd.setFfmpegPath(this.ffmpegPath)
    cmd
      .inputOptions([
        '-rtsp_transport',
        'tcp',
        // Socket I/O timeout (microseconds): a camera that stops sending ends ffmpeg.
        '-timeout',
        String(Math.max(2, Math.round(this.stallMs / 1000)) * 1_000_000),
      ])
      .outputOptions([
        '-an',
        '-vf',
        `fps=1/${this.o.intervalS},scale='min(${this.o.maxWidth},iw)':-2`,
        '-q:v',
        String(qscale(this.o.quality)),
        '-f',
        'image2pipe',
        '-vcodec',
        'mjpeg',
      ])
      // After a deliberate kill (stop, stall) this.cmd no longer points here: nothing to report.
      .on('error', (err: Error) => {
        resolveExit()
        if (this.cmd !== cmd) return
        this.cmd = null
        this.failed(`ffmpeg: ${lastLine(err.message)}`)
      })
      .on('end', () => {
        resolveExit()
        if (this.cmd !== cmd) return
        this.cmd = null
        this.failed('stream ended')
      })
    out.on('data', (chunk: Buffer) => {
      for (const jpeg of splitter.push(chunk)) this.gotFrame(jpeg, Date.now())
    })
    this.cmd = cmd
    this.armStall()
    cmd.pipe(out, { end: true })
  }

  protected async disconnect(): Promise<void> {
    const cmd = this.cmd
    this.cmd = null
    if (cmd) cmd.kill('SIGKILL')
    await this.exited
  }
}

/** Polls a snapshot URI (ONVIF GetSnapshotUri, or any HTTP JPEG) every `intervalS`. */
export class SnapshotSource extends BaseSource {
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly fetchJpeg: () => Promise<Buffer>,
    o: CaptureOptions,
  ) {
    super(o)
  }

  protected connect(): void {
    const tick = async () => {
      this.timer = null
      if (this.stopped) return
      const t0 = Date.now()
      try {
        const raw = await this.fetchJpeg()
        const jpeg = await sharp(raw, { autoOrient: true })
          .resize({ width: this.o.maxWidth, withoutEnlargement: true })
          .jpeg({ quality: this.o.quality })
          .toBuffer()
        this.gotFrame(jpeg, t0)
      } catch (err) {
        this.failed(`snapshot: ${err instanceof Error ? err.message : String(err)}`)
        return
      }
      if (!this.stopped) this.timer = setTimeout(tick, Math.max(0, this.o.intervalS * 1000 - (Date.now() - t0)))
    }
    void tick()
  }

  protected async disconnect(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean)
  return (lines[lines.length - 1] ?? s).slice(0, 300)
}
