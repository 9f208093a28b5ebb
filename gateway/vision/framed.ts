import type { Static, TSchema } from 'typebox'
import Value from 'typebox/value'

// Messages between nodes that carry a JPEG (forwarded frames, relayed snapshots):
// [u32 header length][header JSON][bytes], so the JPEG travels as bytes, not base64.

export function encodeFramed(header: object, body: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header))
  const len = Buffer.alloc(4)
  len.writeUInt32BE(json.length)
  return Buffer.concat([len, json, body])
}

/** The header (checked against `schema`) and the bytes of a message, or why it is not one (a node of another version). */
export function decodeFramed<S extends TSchema>(msg: Buffer, schema: S): { header: Static<S>; body: Buffer } | string {
  if (msg.length < 4) return 'shorter than its length prefix'
  const len = msg.readUInt32BE(0)
  if (4 + len > msg.length) return `header length ${len} past the message's ${msg.length} bytes`
  let header: unknown
  try {
    header = JSON.parse(msg.subarray(4, 4 + len).toString('utf8'))
  } catch {
    return 'header is not JSON'
  }
  if (!Value.Check(schema, header)) {
    const e = [...Value.Errors(schema, header)][0]
    return `header ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`
  }
  return { header, body: Buffer.from(msg.subarray(4 + len)) }
}
