import Type, { type Static } from 'typebox'

// Modbus register maps: which registers hold which metric and how to turn the 16-bit words into
// a value. Modbus (Modbus Application Protocol v1.1b3 §4.2) fixes big-endian bytes within a
// register but leaves the order of the words of a 32-bit value to the device vendor, hence
// `word_order` per entry.

export const RegisterEntry = Type.Object(
  {
    metric: Type.String({ minLength: 1, maxLength: 64 }),
    address: Type.Integer({
      minimum: 0,
      maximum: 65535,
      description: 'Zero-based register address (protocol address, not the 4xxxx label)',
    }),
    table: Type.Union([Type.Literal('holding'), Type.Literal('input')], { default: 'holding' }),
    type: Type.Union([
      Type.Literal('int16'),
      Type.Literal('uint16'),
      Type.Literal('int32'),
      Type.Literal('uint32'),
      Type.Literal('float32'),
    ]),
    /** `big`: the high word first (AB CD); `little`: the low word first (CD AB). */
    word_order: Type.Union([Type.Literal('big'), Type.Literal('little')], { default: 'big' }),
    scale: Type.Number({ default: 1 }),
    offset: Type.Number({ default: 0 }),
  },
  { additionalProperties: false },
)
export type RegisterEntry = Static<typeof RegisterEntry>

export function wordCount(type: RegisterEntry['type']): 1 | 2 {
  return type === 'int16' || type === 'uint16' ? 1 : 2
}

/** The raw value of `words` (each 0..65535, as read) for an entry, before scale and offset. */
export function decodeWords(entry: Pick<RegisterEntry, 'type' | 'word_order'>, words: readonly number[]): number {
  const buf = Buffer.alloc(4)
  if (wordCount(entry.type) === 1) {
    buf.writeUInt16BE(words[0]! & 0xffff, 0)
    return entry.type === 'int16' ? buf.readInt16BE(0) : buf.readUInt16BE(0)
  }
  const [hi, lo] = entry.word_order === 'little' ? [words[1]!, words[0]!] : [words[0]!, words[1]!]
  buf.writeUInt16BE(hi & 0xffff, 0)
  buf.writeUInt16BE(lo & 0xffff, 2)
  switch (entry.type) {
    case 'int32':
      return buf.readInt32BE(0)
    case 'uint32':
      return buf.readUInt32BE(0)
    default:
      return buf.readFloatBE(0)
  }
}

/** The words a device would hold for `raw` (tests and simulators). */
export function encodeWords(entry: Pick<RegisterEntry, 'type' | 'word_order'>, raw: number): number[] {
  const buf = Buffer.alloc(4)
  if (wordCount(entry.type) === 1) {
    if (entry.type === 'int16') buf.writeInt16BE(raw, 0)
    else buf.writeUInt16BE(raw, 0)
    return [buf.readUInt16BE(0)]
  }
  if (entry.type === 'int32') buf.writeInt32BE(raw, 0)
  else if (entry.type === 'uint32') buf.writeUInt32BE(raw, 0)
  else buf.writeFloatBE(raw, 0)
  const hi = buf.readUInt16BE(0)
  const lo = buf.readUInt16BE(2)
  return entry.word_order === 'little' ? [lo, hi] : [hi, lo]
}

export function applyScale(entry: Pick<RegisterEntry, 'scale' | 'offset'>, raw: number): number {
  return raw * entry.scale + entry.offset
}
