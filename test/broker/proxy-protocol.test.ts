// mqtt.proxyProtocol (docs/operations.md "HAProxy in front"): behind a real HAProxy sending PROXY
// headers, the broker counts and limits each client by the address the header names, over TCP
// (v1 and v2) and TLS passthrough; a connection without a valid header is closed before any MQTT
// byte is read, and counted.
import { V2ProxyProtocol, IPv4ProxyAddress, IPv4Address, Command, TransportProtocol } from 'proxy-protocol-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryAuthFailureLimiter } from '../../gateway/security/auth-failures.ts'
import { startHaproxy, tcpFrontend, type RunningHaproxy } from '../support/haproxy.ts'
import { selfSignedCert } from '../support/certs.ts'
import { mqttConnect } from '../support/proxied-client.ts'
import { freePort, requireCommand, tempDir, waitFor } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'

const HAVE = requireCommand('haproxy') && requireCommand('openssl')

const v1 = (src: string): Buffer => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 40000 1883\r\n`)
function v2(src: string, tlv = Buffer.alloc(0)): Buffer {
  const header = Buffer.from(
    new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom(src.split('.').map(Number)), 40000, IPv4Address.createFrom([127, 0, 0, 1]), 1883),
    ).build(),
  )
  if (tlv.length === 0) return header
  header.writeUInt16BE(header.readUInt16BE(14) + tlv.length, 14)
  return Buffer.concat([header, tlv])
}

/** The addresses named in the refusal summaries logged so far, with their reasons. */
function summarised(h: Harness): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  for (const line of h.lines) {
    const o = JSON.parse(line) as { event?: string; addresses?: Array<{ address: string; reasons: Record<string, number> }> }
    if (o.event !== 'mqtt_connect_refusals') continue
    for (const a of o.addresses ?? []) {
      const r = (out[a.address] ??= {})
      for (const [k, n] of Object.entries(a.reasons)) r[k] = (r[k] ?? 0) + n
    }
  }
  return out
}

describe.skipIf(!HAVE)('MQTT behind HAProxy with the PROXY protocol', () => {
  const dir = tempDir('iocgw-proxy-')
  let h: Harness
  let haproxy: RunningHaproxy
  const front = { v2: 0, v1: 0, tls: 0 }
  let secret = ''

  beforeAll(async () => {
    const tls = selfSignedCert(dir.path)
    h = await startBroker({
      config: { proxyProtocol: true, maxConnectionsPerAddress: 2, connectTimeoutMs: 1500, maxConnectBytes: 4096, tls, tlsPort: 0 },
      authFailures: memoryAuthFailureLimiter({ perAddressPerMinute: 3, perUsernamePerMinute: 1000 }),
      refusalLogIntervalMs: 100,
    })
    secret = await h.addDevice('proxy-01')
    front.v2 = await freePort()
    front.v1 = await freePort()
    front.tls = await freePort()
    const node = (port: number) => [{ name: 'node1', host: '127.0.0.1', port }]
    // No health checks: their connections come from 127.0.0.1 and would count against its cap of 2.
    haproxy = await startHaproxy(
      [
        tcpFrontend({ name: 'mqtt', port: front.v2, backends: node(h.ports.mqtt), check: false }),
        tcpFrontend({ name: 'mqtt_v1', port: front.v1, backends: node(h.ports.mqtt), proxy: 'v1', check: false }),
        tcpFrontend({ name: 'mqtts', port: front.tls, backends: node(h.ports.tls!), check: false }),
      ],
      [front.v2, front.v1, front.tls],
    )
  }, 60_000)
  afterAll(async () => {
    await haproxy?.kill()
    await h?.stop()
    dir.remove()
  })

  it('caps connections per client address, not per balancer', async () => {
    const a1 = await mqttConnect({ port: front.v2, from: '127.0.0.2', username: 'proxy-01', password: secret })
    const a2 = await mqttConnect({ port: front.v2, from: '127.0.0.2', username: 'proxy-01', password: secret })
    expect([a1.connack, a2.connack]).toEqual([0, 0])
    const a3 = await mqttConnect({ port: front.v2, from: '127.0.0.2', username: 'proxy-01', password: secret })
    expect(a3.connack).toBeUndefined()
    // At least once: HAProxy may retry a connection the node closes at once (its `retries`).
    await waitFor(async () => (await h.counter('mqtt_connections_closed_total', { reason: 'address_limit' })) >= 1)
    // Another client through the same balancer is still let in.
    const b1 = await mqttConnect({ port: front.v2, from: '127.0.0.3', username: 'proxy-01', password: secret })
    expect(b1.connack).toBe(0)
    for (const c of [a1, a2, b1]) c.socket.destroy()
    await waitFor(() => h.broker.socketStats().sockets === 0)
  })

  it('limits failed logins per client address (v1 and v2 headers), and names it in the refusal log', async () => {
    for (let i = 0; i < 3; i++) {
      const bad = await mqttConnect({ port: front.v2, from: '127.0.0.4', username: 'proxy-01', password: 'wrong-secret' })
      expect(bad.connack).toBe(4)
    }
    // The right secret from the locked-out client: CONNACK 5 without checking it.
    const locked = await mqttConnect({ port: front.v1, from: '127.0.0.4', username: 'proxy-01', password: secret })
    expect(locked.connack).toBe(5)
    const other = await mqttConnect({ port: front.v1, from: '127.0.0.5', username: 'proxy-01', password: secret })
    expect(other.connack).toBe(0)
    other.socket.destroy()
    const seen = await waitFor(() => {
      const s = summarised(h)
      return s['127.0.0.4']?.rate_limited ? s : undefined
    })
    expect(seen['127.0.0.4']).toEqual({ bad_secret: 3, rate_limited: 1 })
    expect(seen['127.0.0.1']).toBeUndefined()
  })

  it('reads the header before the TLS bytes (HAProxy in TCP passthrough)', async () => {
    const bad = await mqttConnect({ port: front.tls, tls: true, from: '127.0.0.6', username: 'proxy-01', password: 'wrong-secret' })
    expect(bad.connack).toBe(4)
    const good = await mqttConnect({ port: front.tls, tls: true, from: '127.0.0.6', username: 'proxy-01', password: secret })
    expect(good.connack).toBe(0)
    good.socket.destroy()
    await waitFor(() => summarised(h)['127.0.0.6']?.bad_secret === 1)
  })

  it('closes a connection without a header, or with a garbled one, before reading MQTT, and counts it', async () => {
    const refusedBefore = await h.counter('mqtt_connect_refused_total')
    const direct = await mqttConnect({ port: h.ports.mqtt, from: '127.0.0.7', username: 'proxy-01', password: secret })
    expect(direct.connack).toBeUndefined()
    const garbled = await mqttConnect({
      port: h.ports.mqtt,
      from: '127.0.0.7',
      before: [Buffer.from('PROXY TCP4 300.1.2.3 127.0.0.1 1 2\r\n')],
      username: 'proxy-01',
      password: secret,
    })
    expect(garbled.connack).toBeUndefined()
    const overTls = await mqttConnect({ port: h.ports.tls!, tls: true, from: '127.0.0.7', username: 'proxy-01', password: secret })
    expect(overTls.connack).toBeUndefined()
    await waitFor(async () => (await h.counter('mqtt_proxy_header_refused_total', { reason: 'missing' })) === 2)
    expect(await h.counter('mqtt_proxy_header_refused_total', { reason: 'malformed' })).toBe(1)
    // No CONNECT was parsed: nothing reached authentication.
    expect(await h.counter('mqtt_connect_refused_total')).toBe(refusedBefore)
    await waitFor(() => summarised(h)['127.0.0.7']?.proxy_header_missing === 2)
    expect(summarised(h)['127.0.0.7']).toEqual({ proxy_header_missing: 2, proxy_header_malformed: 1 })
  })

  it('takes a header that arrives in pieces, with TLVs, and the CONNECT in the same packet', async () => {
    const header = v2('10.20.30.40', Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]))
    const pieces = [header.subarray(0, 5), header.subarray(5, 15), header.subarray(15, 20), header.subarray(20)]
    const slow = await mqttConnect({ port: h.ports.mqtt, before: pieces, gapMs: 30, username: 'proxy-01', password: 'wrong' })
    expect(slow.connack).toBe(4)
    await waitFor(() => summarised(h)['10.20.30.40']?.bad_secret === 1)
    const s = await mqttConnect({ port: h.ports.mqtt, before: [v1('10.20.30.41')], glued: true, username: 'proxy-01', password: 'wrong' })
    expect(s.connack).toBe(4)
    const t = await mqttConnect({ port: h.ports.tls!, before: [v2('10.20.30.42')], glued: true, username: 'x', password: 'y' })
    // The header is read, then TLS finds no ClientHello: closed, no CONNACK.
    expect(t.connack).toBeUndefined()
    await waitFor(() => summarised(h)['10.20.30.41']?.bad_secret === 1)
  })

  it('holds a header to the pre-CONNECT limits: the time and the bytes', async () => {
    const timeouts = await h.counter('mqtt_connections_closed_total', { reason: 'connect_timeout' })
    const unfinished = await mqttConnect({
      port: h.ports.mqtt,
      before: [v2('10.0.0.9').subarray(0, 10), Buffer.alloc(0)],
      gapMs: 20_000,
      username: 'proxy-01',
      password: secret,
      waitMs: 30_000,
    })
    expect(unfinished.connack).toBeUndefined()
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'connect_timeout' })).toBe(timeouts + 1)
    // A v2 header declaring 8 KiB of TLVs is more than the 4 KiB allowed before CONNACK.
    const big = v2('10.0.0.10', Buffer.concat([Buffer.from([0x04, 0x1f, 0xfc]), Buffer.alloc(0x1ffc, 0x41)]))
    const huge = await mqttConnect({ port: h.ports.mqtt, before: [big], username: 'proxy-01', password: secret })
    expect(huge.connack).toBeUndefined()
    await waitFor(async () => (await h.counter('mqtt_connections_closed_total', { reason: 'preauth_bytes' })) === 1)
    await waitFor(() => h.broker.socketStats().preAuthBytes === 0)
  }, 40_000)
})
