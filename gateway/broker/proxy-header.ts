// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a TCP load balancer
// sends before the client's bytes when `mqtt.proxyProtocol` is on: it names the client's own
// address, which the per-address cap, the failed-login limit and the refusal log must count,
// instead of the balancer's. Addresses are decoded by proxy-protocol-js; this file only finds
// where the header ends (the library does not know about partial reads, nor about v2 TLVs).
import { isIP } from 'node:net'
import {
  AddressFamilyType,
  Command,
  INETProtocol,
  IPv4ProxyAddress,
  IPv6ProxyAddress,
  TransportProtocol,
  V1BinaryProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js'

/** Why a connection's header was refused (the `reason` label of `mqtt_proxy_header_refused_total`). */
export type ProxyHeaderRefusal =
  | 'missing' // the first bytes are not a PROXY signature (a client that bypassed the balancer)
  | 'malformed' // a signature, then something the specification does not allow
  | 'unsupported' // a valid header for something other than TCP over IPv4/IPv6 (UDP, unix sockets)

export type ProxyHeaderResult =
  /** `needed`: the header's whole length once known (a v2 header says it in its first 16 bytes). */
  | { kind: 'incomplete'; needed?: number | undefined }
  | { kind: 'refused'; reason: ProxyHeaderRefusal; detail: string }
  /** `address` is undefined for a v2 LOCAL or v1 UNKNOWN header: the connection's own address stands (spec 2.1, 2.2). */
  | { kind: 'ok'; headerBytes: number; address?: string | undefined; port?: number | undefined }

const V1_SIGNATURE = Buffer.from('PROXY ', 'ascii')
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** A v1 line is 107 bytes at most, CRLF included (spec 2.1). */
const V1_MAX = 107
/** Signature, version/command, family/transport and the 2-byte length (spec 2.2). */
const V2_FIXED = 16

/** True while `buf` is still a prefix of `sig` or starts with it. */
const startsLike = (buf: Buffer, sig: Buffer): boolean =>
  sig.subarray(0, Math.min(buf.length, sig.length)).equals(buf.subarray(0, sig.length))

const refused = (reason: ProxyHeaderRefusal, detail: string): ProxyHeaderResult => ({ kind: 'refused', reason, detail })

function ipv6Text(bytes: readonly number[]): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  // The URL parser writes an IPv6 address in its canonical compressed form.
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1)
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  const end = buf.indexOf('\r\n')
  if (end < 0) return buf.length >= V1_MAX ? refused('malformed', 'v1 line without CRLF within 107 bytes') : { kind: 'incomplete' }
  const headerBytes = end + 2
  if (headerBytes > V1_MAX) return refused('malformed', 'v1 line longer than 107 bytes')
  const line = buf.subarray(0, headerBytes)
  // "PROXY UNKNOWN" may carry anything up to CRLF; the receiver ignores it (spec 2.1).
  if (line.toString('ascii').startsWith(`PROXY ${INETProtocol.UNKNOWN}`)) return { kind: 'ok', headerBytes }
  let parsed: V1BinaryProxyProtocol
  try {
    parsed = V1BinaryProxyProtocol.parse(line)
  } catch (err) {
    return refused('malformed', `v1: ${(err as { message?: string }).message ?? String(err)}`)
  }
  const family = parsed.inetProtocol === INETProtocol.TCP4 ? 4 : 6
  const { ipAddress, port } = parsed.source
  if (isIP(ipAddress) !== family || isIP(parsed.destination.ipAddress) !== family)
    return refused('malformed', `v1: not ${parsed.inetProtocol} addresses`)
  if (!validPort(port) || !validPort(parsed.destination.port)) return refused('malformed', 'v1: port out of range')
  return { kind: 'ok', headerBytes, address: ipAddress, port }
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  if (buf.length < V2_FIXED) return { kind: 'incomplete' }
  const headerBytes = V2_FIXED + buf.readUInt16BE(14)
  if (buf.length < headerBytes) return { kind: 'incomplete', needed: headerBytes }
  // The declared length covers the addresses and any TLVs after them (spec 2.2.7); the library
  // reads the addresses and would count the TLVs as client data, so it gets the header alone.
  let parsed: V2ProxyProtocol
  try {
    parsed = V2ProxyProtocol.parse(buf.subarray(0, headerBytes))
  } catch (err) {
    return refused('malformed', `v2: ${(err as { message?: string }).message ?? String(err)}`)
  }
  // LOCAL: the balancer's own connection (a health check); its addresses are to be ignored.
  if (parsed.command === Command.LOCAL) return { kind: 'ok', headerBytes }
  if (parsed.addressFamilyType === AddressFamilyType.UNSPEC) return { kind: 'ok', headerBytes }
  if (parsed.transportProtocol !== TransportProtocol.STREAM) return refused('unsupported', 'v2: not a stream (TCP) connection')
  const a = parsed.proxyAddress
  if (a instanceof IPv4ProxyAddress) return { kind: 'ok', headerBytes, address: a.sourceAddress.address.join('.'), port: a.sourcePort }
  if (a instanceof IPv6ProxyAddress) return { kind: 'ok', headerBytes, address: ipv6Text(a.sourceAddress.address), port: a.sourcePort }
  return refused('unsupported', 'v2: unix socket addresses')
}

/**
 * Reads the header at the start of `buf` (all bytes received so far). `incomplete` asks for more;
 * `ok.headerBytes` says where the client's own bytes start.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return { kind: 'incomplete' }
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : parseV2(buf)
  if (startsLike(buf, V1_SIGNATURE)) return buf.length < V1_SIGNATURE.length ? { kind: 'incomplete' } : parseV1(buf)
  return refused('missing', 'no PROXY protocol signature')
}
