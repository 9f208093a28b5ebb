import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { decodeJson } from '../util/schema-error.ts'
import { DEVICE_KINDS } from '../registry/types.ts'
import type { RoutedInput } from './partitions.ts'

// The message carrying an alert input to the node that owns its partition (partitions.ts), on the
// Redis channel `iocgw:alerts:inputs:{n}`: JSON, checked on arrival like any input at an edge (a
// node of another version may send something else).

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

// Compiled once: every forwarded reading is checked (a node receives about half of them in a
// two-node cluster), and the interpreted Value.Check cost a cluster node more CPU than Redis did.
const checkForwarded = Compile(Forwarded)

export interface ForwardedInput {
  hops: number
  input: RoutedInput
}

export const encodeInput = (f: ForwardedInput): string => JSON.stringify(f)

/** The forwarded input, or what is wrong with the message (where and why). */
export function decodeInput(message: string): ForwardedInput | string {
  // The schema's static type is the wire's; RoutedInput is the same shape, typed by the engine.
  return decodeJson(checkForwarded, message) as ForwardedInput | string
}
