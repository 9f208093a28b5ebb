import Type, { type Static } from 'typebox'

// The `driver:` section of an edge config with `type: camera` (config/edge.example.yaml style,
// snake_case keys like the rest of that file).

export const CameraDriverSchema = Type.Object(
  {
    type: Type.Literal('camera'),
    /** Exactly one source: an RTSP URL, a snapshot URL, or an ONVIF device service to ask for them. */
    rtsp_url: Type.Optional(Type.String({ pattern: '^rtsps?://' })),
    snapshot_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    onvif: Type.Optional(
      Type.Object(
        {
          /** Device service, e.g. http://192.168.1.64/onvif/device_service. */
          xaddr: Type.String({ pattern: '^https?://' }),
          /** Media profile token, name or index; default the first (the main stream). */
          profile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })])),
          /** Capture from the RTSP stream (default) or by polling the snapshot URI. */
          use: Type.Union([Type.Literal('rtsp'), Type.Literal('snapshot')], { default: 'rtsp' }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Camera account (RTSP, ONVIF, snapshot digest auth). */
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    password: Type.Optional(Type.String({ maxLength: 128 })),
    /** Environment variable holding the camera password. */
    password_env: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' })),
    /** One frame every this many seconds. */
    interval_s: Type.Number({ minimum: 0.2, maximum: 3600, default: 5 }),
    /** Frames wider than this are scaled down (aspect kept). */
    max_width: Type.Integer({ minimum: 64, maximum: 7680, default: 1280 }),
    jpeg_quality: Type.Integer({ minimum: 1, maximum: 100, default: 80 }),
    /** MQTT QoS of frames; 0 by default: a lost frame is replaced by the next. */
    qos: Type.Union([Type.Literal(0), Type.Literal(1)], { default: 0 }),
    backoff_initial_ms: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    backoff_max_ms: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    /** No frame for this long means the camera is down; default max(10 s, 3 intervals). */
    stall_timeout_s: Type.Optional(Type.Number({ minimum: 1, maximum: 3600 })),
    ffmpeg_path: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
)

export type CameraDriverConfig = Static<typeof CameraDriverSchema>

/** One line naming the problem, or null. */
export function checkCameraSource(c: CameraDriverConfig): string | null {
  const n = [c.rtsp_url, c.snapshot_url, c.onvif].filter((x) => x !== undefined).length
  if (n !== 1) return 'driver: give exactly one of rtsp_url, snapshot_url, onvif'
  if (c.password_env && process.env[c.password_env] === undefined)
    return `driver.password_env: environment variable ${c.password_env} is not set`
  return null
}
