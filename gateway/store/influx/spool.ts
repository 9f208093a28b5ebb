import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writevSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

// Disk spool for points InfluxDB could not take yet: append-only segment files, drained oldest
// first, so points reach InfluxDB in the order they were accepted. A record is one group of
// line-protocol lines:
//
//   [u32 payload bytes][u32 point count][u32 crc32 of payload][payload: lines joined by \n]
//
// A record counts only once fsync'd; a torn record at the tail (the process killed mid-append,
// before its writer was acknowledged) fails its length or CRC check and is cut off on open.
// Hand-written: the format is tiny, and the known npm disk queues either keep everything in memory
// or do not fsync before resolving, which is the one property the gateway's acknowledgement needs.
// Synchronous fs calls: appends are grouped (one writev + one fdatasync per group) and a drained
// segment is at most `segmentBytes`, so each call is short and bounded.

const HEADER = 12
const SEG_RE = /^(\d{16})\.seg$/

export interface SpoolRecord {
  payload: Buffer
  points: number
}

export interface SpoolSegment {
  seq: number
  records: SpoolRecord[]
  bytes: number
  points: number
}

interface Queued {
  header: Buffer
  payload: Buffer
  points: number
  resolve: () => void
  reject: (err: Error) => void
}

export class Spool {
  private active: { seq: number; fd: number; bytes: number; points: number } | null = null
  /** Sealed segments, oldest first, with their sizes. */
  private readonly sealed: Array<{ seq: number; bytes: number; points: number }> = []
  private queue: Queued[] = []
  private flushing = false
  private nextSeq = 1
  points = 0
  bytes = 0

  constructor(
    private readonly dir: string,
    private readonly segmentBytes = 8 * 1024 * 1024,
  ) {
    mkdirSync(dir, { recursive: true })
    const seqs = readdirSync(dir)
      .map((f) => SEG_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b)
    for (const seq of seqs) {
      const { points, bytes } = this.check(seq)
      if (points === 0) {
        unlinkSync(this.path(seq))
        continue
      }
      this.sealed.push({ seq, bytes, points })
      this.points += points
      this.bytes += bytes
    }
    this.nextSeq = (seqs.at(-1) ?? 0) + 1
    fsyncDir(dir)
  }

  get empty(): boolean {
    return this.points === 0 && this.queue.length === 0 && !this.flushing
  }

  /** Appends one record, `points` lines joined by \n; resolves once it is on disk (fdatasync'd). */
  append(payload: Buffer, points: number): Promise<void> {
    if (points === 0) return Promise.resolve()
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32LE(payload.length, 0)
    header.writeUInt32LE(points, 4)
    header.writeUInt32LE(crc32(payload), 8)
    return new Promise((resolve, reject) => {
      this.queue.push({ header, payload, points, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        // Let appends of the same event-loop turn join this group (one fsync for all).
        setImmediate(() => this.flushQueue())
      }
    })
  }

  private flushQueue(): void {
    while (this.queue.length > 0) {
      const group = this.queue
      this.queue = []
      try {
        this.writeGroup(group)
        for (const q of group) q.resolve()
      } catch (err) {
        for (const q of group) q.reject(err as Error)
      }
    }
    this.flushing = false
  }

  private writeGroup(group: Queued[]): void {
    let bytes = 0
    let points = 0
    const bufs: Buffer[] = []
    for (const q of group) {
      bufs.push(q.header, q.payload)
      bytes += HEADER + q.payload.length
      points += q.points
    }
    if (this.active && this.active.bytes > 0 && this.active.bytes + bytes > this.segmentBytes) this.seal()
    if (!this.active) {
      const seq = this.nextSeq++
      this.active = { seq, fd: openSync(this.path(seq), 'a'), bytes: 0, points: 0 }
      fsyncDir(this.dir)
    }
    const a = this.active
    try {
      let off = 0
      while (off < bufs.length) {
        // writev may write part of the vector; continue from where it stopped.
        let n = writevSync(a.fd, bufs.slice(off))
        while (n > 0 && off < bufs.length) {
          const b = bufs[off]!
          if (n >= b.length) {
            n -= b.length
            off++
          } else {
            bufs[off] = b.subarray(n)
            n = 0
          }
        }
      }
      fdatasyncSync(a.fd)
    } catch (err) {
      // Cut the partial group off so the segment stays a clean sequence of records.
      try {
        ftruncateSync(a.fd, a.bytes)
      } catch {
        /* the check on next open cuts it */
      }
      throw err
    }
    a.bytes += bytes
    a.points += points
    this.points += points
    this.bytes += bytes
  }

  private seal(): void {
    const a = this.active
    if (!a) return
    closeSync(a.fd)
    this.active = null
    if (a.points === 0) {
      unlinkSync(this.path(a.seq))
      return
    }
    this.sealed.push({ seq: a.seq, bytes: a.bytes, points: a.points })
  }

  /**
   * The oldest segment with its records, sealing the active one when nothing older is left, or
   * null when the spool holds nothing (no sealed segment, an empty active one, no append waiting).
   * Appends waiting for their group write are written first, so a null answer is final until the
   * next append.
   */
  oldest(): SpoolSegment | null {
    if (this.queue.length > 0) this.flushQueue()
    if (this.sealed.length === 0) {
      if (!this.active || this.active.points === 0) return null
      this.seal()
    }
    const s = this.sealed[0]!
    return { seq: s.seq, ...this.read(s.seq) }
  }

  /** Removes a drained segment (the oldest). */
  remove(seq: number): void {
    const i = this.sealed.findIndex((s) => s.seq === seq)
    if (i < 0) return
    const [s] = this.sealed.splice(i, 1)
    unlinkSync(this.path(seq))
    this.points -= s!.points
    this.bytes -= s!.bytes
  }

  /**
   * Removes every record: the caller knows their points are stored elsewhere (InfluxDB answered
   * every request they were spilled from). Appends still waiting are written first, so each
   * append's promise keeps its meaning.
   */
  clear(): void {
    if (this.queue.length > 0) this.flushQueue()
    if (this.active) {
      closeSync(this.active.fd)
      unlinkSync(this.path(this.active.seq))
      this.active = null
    }
    for (const s of this.sealed.splice(0)) unlinkSync(this.path(s.seq))
    this.points = 0
    this.bytes = 0
  }

  close(): void {
    if (this.queue.length > 0) this.flushQueue()
    if (this.active) {
      closeSync(this.active.fd)
      this.sealed.push({ seq: this.active.seq, bytes: this.active.bytes, points: this.active.points })
      this.active = null
    }
  }

  private path(seq: number): string {
    return join(this.dir, `${String(seq).padStart(16, '0')}.seg`)
  }

  /** Validates a segment on open, cutting a torn tail; answers what it holds. */
  private check(seq: number): { points: number; bytes: number } {
    const { records, bytes, points, validBytes } = this.parse(seq)
    void records
    if (validBytes < statSync(this.path(seq)).size) {
      const fd = openSync(this.path(seq), 'r+')
      try {
        ftruncateSync(fd, validBytes)
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    }
    return { points, bytes }
  }

  private read(seq: number): { records: SpoolRecord[]; bytes: number; points: number } {
    const { records, bytes, points } = this.parse(seq)
    return { records, bytes, points }
  }

  private parse(seq: number): { records: SpoolRecord[]; bytes: number; points: number; validBytes: number } {
    const buf = readFileSync(this.path(seq))
    const records: SpoolRecord[] = []
    let off = 0
    let points = 0
    while (off + HEADER <= buf.length) {
      const len = buf.readUInt32LE(off)
      const n = buf.readUInt32LE(off + 4)
      const crc = buf.readUInt32LE(off + 8)
      if (off + HEADER + len > buf.length) break
      const payload = buf.subarray(off + HEADER, off + HEADER + len)
      if (crc32(payload) !== crc) break
      records.push({ payload, points: n })
      points += n
      off += HEADER + len
    }
    return { records, bytes: off, points, validBytes: off }
  }
}

export function fsyncDir(dir: string): void {
  // A new or removed segment name must survive a crash too.
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } catch {
    /* some filesystems refuse fsync on directories; the data fsync still holds */
  } finally {
    closeSync(fd)
  }
}
