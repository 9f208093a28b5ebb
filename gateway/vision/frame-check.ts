export type FrameReject = 'empty' | 'too_large' | 'not_jpeg' | 'truncated' | 'undecodable' | 'bad_timestamp' | 'not_camera'

/**
 * Cheap structural checks before a frame is queued: size, the JPEG start-of-image marker
 * (FF D8 FF, ITU-T T.81 B.1.1.3) and the end-of-image marker (FF D9). Some encoders pad after EOI,
 * so the EOI is looked for in the last 64 bytes.
 */
export function checkFrameBytes(buf: Buffer, maxBytes: number): FrameReject | null {
  if (buf.length === 0) return 'empty'
  if (buf.length > maxBytes) return 'too_large'
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) return 'not_jpeg'
  const tailStart = Math.max(2, buf.length - 64)
  for (let i = buf.length - 2; i >= tailStart; i--) if (buf[i] === 0xff && buf[i + 1] === 0xd9) return null
  return 'truncated'
}

/** Capture time from `frames/{epoch ms}`; arrival time when absent. */
export function captureTime(subtopic: string, receivedAt: number): number | FrameReject {
  const parts = subtopic.split('/')
  if (parts.length === 1) return receivedAt
  if (parts.length !== 2 || !/^\d{1,15}$/.test(parts[1]!)) return 'bad_timestamp'
  const ts = Number(parts[1])
  // A capture time more than a day ahead is a clock fault, not a frame to store in the future.
  if (ts > receivedAt + 86_400_000) return 'bad_timestamp'
  return ts
}
