import Type, { type Static } from 'typebox'

// `vision:` section of gateway.yaml. Zone polygons are in normalised frame coordinates (0..1, x to
// the right, y down) so they survive a change of the camera's capture resolution.

// maxItems stated for the API's bounded-input rule (a tuple already forbids extra items).
const Point = Type.Tuple([Type.Number({ minimum: 0, maximum: 1 }), Type.Number({ minimum: 0, maximum: 1 })], { maxItems: 2 })
const Polygon = Type.Array(Point, { minItems: 3, maxItems: 64 })

// Nested optional objects get their defaults in code (TILING_DEFAULTS): schema defaults are not
// applied inside records of optional objects.
export const TILING_DEFAULTS = { enabled: 'auto' as boolean | 'auto', tileSize: 416, overlap: 0.25, fullFrame: true, maxTiles: 32 }

/** `auto` tiles a frame whose longer side is more than this many times the model's input side. */
export const AUTO_TILING_FACTOR = 2

export const TilingSchema = Type.Object(
  {
    /**
     * true, false, or 'auto' (default): tile when the frame's longer side exceeds twice the model's
     * input side (832 px for a 416 model), where one pass would shrink small vehicles below what
     * the model resolves.
     */
    enabled: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('auto')], { description: "true, false or 'auto' (default)" })),
    /** Tile side in source pixels; about the model's input size keeps small vehicles at full resolution. */
    tileSize: Type.Optional(Type.Integer({ minimum: 64, maximum: 4096, description: 'default 416' })),
    /** Share of a tile that overlaps its neighbour, so a vehicle cut by one tile is whole in the next. */
    overlap: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5, description: 'default 0.25' })),
    /** Also run one pass over the whole frame, for vehicles larger than a tile. */
    fullFrame: Type.Optional(Type.Boolean({ description: 'default true' })),
    /** Upper bound of inferences per frame (tiles are enlarged to stay within it). */
    maxTiles: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'default 32' })),
  },
  { additionalProperties: false },
)

export const CountZoneSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' }),
    kind: Type.Literal('count'),
    /** Free text such as "northbound" or "lane 2". */
    direction: Type.Optional(Type.String({ maxLength: 64 })),
    polygon: Polygon,
    /** Passenger-car units the zone holds when it is full; scales the congestion level (default 20). */
    capacityPcu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
)

export const FloodZoneSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' }),
    kind: Type.Literal('flood'),
    polygon: Polygon,
  },
  { additionalProperties: false },
)

export const ZoneSchema = Type.Union([CountZoneSchema, FloodZoneSchema])

export const CameraVisionSchema = Type.Object(
  {
    /** Counting and flood zones; none = one counting zone over the whole frame. */
    zones: Type.Optional(Type.Array(ZoneSchema, { maxItems: 32 })),
    tiling: Type.Optional(TilingSchema),
    /**
     * A JPEG of this camera's view on a dry day (path); its water-labelled pixels are subtracted
     * from each flood reading. When unset, the first analysed frame is not assumed dry: no
     * compensation is made and the raw ratio is reported.
     */
    dryReference: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  { additionalProperties: false },
)

export const VisionSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    detector: Type.Object(
      {
        type: Type.String({ default: 'yolox-onnx' }),
        model: Type.String({ default: 'yolox_nano' }),
        /** Objects kept (and drawn) from this score; counting uses countThreshold. */
        scoreThreshold: Type.Number({ minimum: 0, maximum: 1, default: 0.3 }),
        countThreshold: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
        nmsIou: Type.Number({ minimum: 0, maximum: 1, default: 0.45 }),
        nmsIos: Type.Number({ minimum: 0, maximum: 1, default: 0.7 }),
      },
      { additionalProperties: false, default: {} },
    ),
    flood: Type.Object(
      {
        segmenter: Type.Object(
          {
            type: Type.String({ default: 'deeplab-onnx' }),
            model: Type.String({ default: 'deeplabv3_mnv2_ade20k_uint8' }),
          },
          { additionalProperties: false, default: {} },
        ),
        /** The segmenter costs ~5 detector passes: run it at most this often per camera. */
        everyMs: Type.Integer({ minimum: 0, default: 60_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Pool workers; each gets floor(cores / workers) onnxruntime threads (at least 1). */
    // Two single-threaded workers beat one two-threaded on the 2-core target under load
    // (bench/README.md, vision): one frame is letterboxed while the other is inferred.
    workers: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
    threadsPerWorker: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    /**
     * The workers start with the first camera frame (or a camera's `status` online) and stop after
     * this many seconds without a frame, giving back their models' memory; 0 keeps them once started.
     */
    idleStopS: Type.Integer({ minimum: 0, maximum: 7 * 86_400, default: 600 }),
    maxFrameBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 2 * 1024 * 1024 }),
    /**
     * Frames whose header declares more pixels than this are refused before decoding (a flat
     * 16383x16383 JPEG fits in 2 MiB but decodes to ~800 MB). Default 3840x2160 (4K UHD): the
     * model sees 416 px, so larger frames only cost memory. Also sharp's limitInputPixels.
     */
    maxFramePixels: Type.Integer({ minimum: 4096, maximum: 268_402_689, default: 3840 * 2160 }),
    motion: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /**
         * Grey-level change (0..1) of one cell of the motion grid (160 cells along the frame's
         * longer side), the frame's median change taken off, above which the cell moved. A frame
         * with no moved cell is not analysed; a tiled frame is analysed only where cells moved.
         */
        threshold: Type.Number({ minimum: 0, maximum: 1, default: 0.04 }),
        /** A frame is analysed whole (every pass, nothing carried over) at least this often. */
        maxSkipMs: Type.Integer({ minimum: 0, default: 30_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Congestion levels 1..3 start at these zone occupancies (share of the zone under vehicles). */
    congestionOccupancy: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], { default: [0.15, 0.3, 0.5] }),
    /** ... or at these shares of the zone's capacityPcu. */
    congestionPcu: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], { default: [0.4, 0.7, 1.0] }),
    /** Detection records (with boxes) kept for the detections API. */
    retentionDays: Type.Number({ exclusiveMinimum: 0, default: 7 }),
    cameras: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{2,63}$' }), CameraVisionSchema, { default: {} }),
  },
  { additionalProperties: false, default: {} },
)

export type VisionConfig = Static<typeof VisionSection>
export type CameraVisionConfig = Static<typeof CameraVisionSchema>
/** A camera's settings with its zone list resolved (schema defaults are not applied inside records). */
export type CameraSettings = CameraVisionConfig & { zones: Zone[] }
export type Zone = Static<typeof ZoneSchema>
export type CountZone = Static<typeof CountZoneSchema>
export type FloodZone = Static<typeof FloodZoneSchema>
export type TilingConfig = Static<typeof TilingSchema>
