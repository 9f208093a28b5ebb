// Where a PROXY protocol header ends and whom it names (HAProxy's proxy-protocol.txt), for the
// headers a real HAProxy does not send in the tests of proxy-protocol.test.ts.
import { Command, IPv6Address, IPv6ProxyAddress, TransportProtocol, UnspecProxyAddress, V2ProxyProtocol } from 'proxy-protocol-js'
import { describe, expect, it } from 'vitest'
import { parseProxyHeader } from '../../gateway/broker/proxy-header.ts'

const v2Bytes = (p: V2ProxyProtocol): Buffer => Buffer.from(p.build())
const ipv6 = (bytes: number[]) => IPv6Address.createFrom(bytes)

describe('PROXY protocol header', () => {
  it('reads a v1 TCP6 line and says where the client bytes start', () => {
    const line = 'PROXY TCP6 2001:db8::7 2001:db8::1 51000 1883\r\n'
    const r = parseProxyHeader(Buffer.concat([Buffer.from(line), Buffer.from([0x10, 0x0c])]))
    expect(r).toEqual({ kind: 'ok', headerBytes: line.length, address: '2001:db8::7', port: 51000 })
  })

  it('reads a v2 IPv6 header', () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09]
    const header = v2Bytes(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv6ProxyAddress(ipv6(src), 4242, ipv6(new Array(16).fill(0)), 1883),
      ),
    )
    expect(parseProxyHeader(header)).toEqual({ kind: 'ok', headerBytes: header.length, address: '2001:db8::9', port: 4242 })
  })

  it('keeps the connection address for a v2 LOCAL header and a v1 UNKNOWN line (spec 2.1, 2.2)', () => {
    const local = v2Bytes(new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new UnspecProxyAddress()))
    expect(parseProxyHeader(local)).toEqual({ kind: 'ok', headerBytes: 16 })
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'ok', headerBytes: 15 })
  })

  it('waits for more bytes while the header is a prefix, and knows a v2 length before it has it all', () => {
    expect(parseProxyHeader(Buffer.from('PRO'))).toEqual({ kind: 'incomplete' })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.0.0.1'))).toEqual({ kind: 'incomplete' })
    const header = v2Bytes(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv6ProxyAddress(ipv6(new Array(16).fill(1)), 1, ipv6(new Array(16).fill(2)), 2),
      ),
    )
    expect(parseProxyHeader(header.subarray(0, 7))).toEqual({ kind: 'incomplete' })
    expect(parseProxyHeader(header.subarray(0, 20))).toEqual({ kind: 'incomplete', needed: header.length })
  })

  it('refuses what is no header, a bad one, and one for UDP', () => {
    expect(parseProxyHeader(Buffer.from([0x10, 0x20, 0x00]))).toMatchObject({ kind: 'refused', reason: 'missing' })
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))).toMatchObject({ kind: 'refused', reason: 'missing' })
    expect(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`))).toMatchObject({ kind: 'refused', reason: 'malformed' })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 99999 1883\r\n'))).toMatchObject({
      kind: 'refused',
      reason: 'malformed',
    })
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 10.0.0.1 10.0.0.2 1 1883\r\n'))).toMatchObject({ kind: 'refused', reason: 'malformed' })
    expect(parseProxyHeader(Buffer.from('PROXY SCTP 10.0.0.1 10.0.0.2 1 1883\r\n'))).toMatchObject({ kind: 'refused', reason: 'malformed' })
    const udp = v2Bytes(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.DGRAM,
        new IPv6ProxyAddress(ipv6(new Array(16).fill(1)), 1, ipv6(new Array(16).fill(2)), 2),
      ),
    )
    expect(parseProxyHeader(udp)).toMatchObject({ kind: 'refused', reason: 'unsupported' })
    // Version nibble 3: a signature, then no valid header.
    const v3 = Buffer.from(udp)
    v3[12] = 0x31
    expect(parseProxyHeader(v3)).toMatchObject({ kind: 'refused', reason: 'malformed' })
  })
})
