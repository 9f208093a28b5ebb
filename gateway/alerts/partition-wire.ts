import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { decodeJson } from '../util/schema-error.ts'
import { DEVICE_KINDS } from '../registry/types.ts'
import type { RoutedInput } from './partitions.ts'

// The message carrying alert inputs to the node that owns their partition (partitions.ts), on the
// Redis channel `iocgw:alerts:inputs:{n}` (one partition's) or `iocgw:alerts:node:{node id}` (a
// node's, its inputs tagged with their partitions): JSON, checked on arrival like any input at an
// edge (a node of another version may send something else).

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

const ReadingWire = Type.Object({
  device: Type.String({ minLength: 1 }),
  kind: Type.Enum([...DEVICE_KINDS]),
  station: Nullable(Type.String()),
  district: Nullable(Type.String()),
  ts: Type.Number(),
  seq: Nullable(Type.Number()),
  values: Type.Record(Type.String(), Type.Number()),
  late: Type.Boolean(),
  aqi_dominant: Type.Optional(Type.String()),
})

const DetectionWire = Type.Object({
  camera: Type.String({ minLength: 1 }),
  zone: Type.String(),
  ts: Type.Number(),
  counts: Type.Record(Type.String(), Type.Number()),
  congestion: Type.Number(),
  occupancy: Type.Number(),
  water_ratio: Type.Optional(Type.Number()),
  station: Type.Optional(Nullable(Type.String())),
  district: Type.Optional(Nullable(Type.String())),
  boxes: Type.Optional(Type.Number()),
})

const Forwarded = Type.Object({
  /** How many times the input was sent on already (a lapsed owner sends it on again). */
  hops: Type.Integer({ minimum: 0 }),
  /** The input's partition: given in a message to a node's own channel, which carries several. */
  partition: Type.Optional(Type.Integer({ minimum: 0 })),
  input: Type.Union([
    Type.Object({ type: Type.Literal('reading'), reading: ReadingWire }),
    Type.Object({ type: Type.Literal('detection'), detection: DetectionWire }),
    Type.Object({
      type: Type.Literal('seen'),
      device: Type.String({ minLength: 1 }),
      kind: Type.Optional(Type.String()),
      station: Type.Optional(Nullable(Type.String())),
      district: Type.Optional(Nullable(Type.String())),
    }),
  ]),
})

/** The inputs of one turn for one partition, in arrival order (partitions.ts sends these). */
const Batch = Type.Object({ inputs: Type.Array(Forwarded, { minItems: 1, maxItems: 10_000 }) })

// Compiled once: every forwarded reading is checked (a node receives about half of them in a
// two-node cluster), and the interpreted Value.Check cost a cluster node more CPU than Redis did.
// One forwarded input alone is what nodes of the previous version send: still read, so that a
// cluster can be upgraded one node at a time.
const checkMessage = Compile(Type.Union([Batch, Forwarded]))

export interface ForwardedInput {
  hops: number
  partition?: number | undefined
  input: RoutedInput
}

export const encodeInputs = (inputs: readonly ForwardedInput[]): string => JSON.stringify({ inputs })

/** The forwarded inputs, or what is wrong with the message (where and why). */
export function decodeInputs(message: string): ForwardedInput[] | string {
  // The schema's static type is the wire's; RoutedInput is the same shape, typed by the engine.
  const m = decodeJson(checkMessage, message) as { inputs: ForwardedInput[] } | ForwardedInput | string
  return typeof m === 'string' ? m : 'inputs' in m ? m.inputs : [m]
}
