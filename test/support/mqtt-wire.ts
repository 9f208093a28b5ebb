// Hand-built MQTT bytes for tests (and benches) that must send what a real client library never
// would: a fixed header declaring more than follows, a packet left unfinished.

/** Remaining-length encoding of MQTT 3.1.1 (clause 2.2.3). */
export function remainingLength(n: number): number[] {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

/** The start of a CONNECT declaring `length` bytes (protocol MQTT, level 4), its body never finished. */
export function connectHeader(length: number): Buffer {
  return Buffer.from([0x10, ...remainingLength(length), 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 0])
}
