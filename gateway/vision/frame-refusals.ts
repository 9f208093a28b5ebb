// What a technician reads in the device's rejects (GET /devices/:id/rejects, `iocgw device
// rejects`) for a refused camera frame; the reasons are those of docs/mqtt.md.
const SENTENCES: Record<string, string> = {
  empty: 'the frame is empty: publish the JPEG bytes as the payload',
  too_large: 'the frame is larger than vision.maxFrameBytes: lower the resolution or JPEG quality',
  not_jpeg: 'the payload is not a JPEG (no FF D8 FF start-of-image marker): send the raw JPEG, not base64 or another format',
  truncated: 'the JPEG has no end-of-image marker (FF D9): the frame was cut off',
  bad_timestamp: 'the last topic level must be the capture time in epoch ms, at most a day ahead: devices/{id}/frames/{epoch ms}',
  not_camera: 'only devices of kind camera may publish frames',
}

/** One sentence for a refused frame, naming its size. */
export function frameRefusalMessage(reason: string, bytes: number): string {
  return `${SENTENCES[reason] ?? `frame refused: ${reason}`} (${bytes} bytes)`
}
