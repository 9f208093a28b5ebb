export type FrameReject =
  'empty' | 'too_large' | 'too_many_pixels' | 'not_jpeg' | 'truncated' | 'undecodable' | 'bad_timestamp' | 'not_camera'

/**
 * Cheap structural checks before a frame is queued: size, the JPEG start-of-image marker
 * (FF D8 FF, ITU-T T.81 B.1.1.3), the end-of-image marker (FF D9) and the frame's pixel count
 * from its header. Some encoders pad after EOI, so the EOI is looked for in the last 64 bytes.
 * The pixel count is what decoding costs: a flat 16383x16383 JPEG is 1.5 MB on the wire but
 * ~800 MB of pixels, so the byte limit alone does not bound memory (docs/operations.md, Security).
 */
export function checkFrameBytes(buf: Buffer, maxBytes: number, maxPixels = Number.POSITIVE_INFINITY): FrameReject | null {
  if (buf.length === 0) return 'empty'
  if (buf.length > maxBytes) return 'too_large'
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) return 'not_jpeg'
  const tailStart = Math.max(2, buf.length - 64)
  let eoi = false
  for (let i = buf.length - 2; i >= tailStart && !eoi; i--) if (buf[i] === 0xff && buf[i + 1] === 0xd9) eoi = true
  if (!eoi) return 'truncated'
  const size = jpegFrameSize(buf)
  // No frame header before the scan, or a height left to a DNL marker: the cost cannot be known
  // before decoding, so the frame is not decoded.
  if (!size || size.width === 0 || size.height === 0) return 'undecodable'
  if (size.width * size.height > maxPixels) return 'too_many_pixels'
  return null
}

// SOFn markers (ITU-T T.81 B.1.1.3, table B.1): C0-CF except C4 (DHT), C8 (JPG) and CC (DAC).
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc

/**
 * Width and height from the JPEG frame header (SOFn: length, precision, Y, X; T.81 B.2.2), found
 * by walking the marker segments from SOI without decoding anything. Null when no frame header
 * comes before the first scan (SOS) or the segments run past the buffer.
 */
export function jpegFrameSize(buf: Buffer): { width: number; height: number } | null {
  let i = 2
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return null
    const m = buf[i + 1]!
    // Fill bytes (FF FF ...) may precede a marker (T.81 B.1.1.2).
    if (m === 0xff) {
      i++
      continue
    }
    // Standalone markers without a length: TEM and RST0-7.
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2
      continue
    }
    if (m === 0xda || m === 0xd9) return null
    const len = buf.readUInt16BE(i + 2)
    if (len < 2) return null
    if (isSof(m)) {
      if (i + 9 > buf.length) return null
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) }
    }
    i += 2 + len
  }
  return null
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
