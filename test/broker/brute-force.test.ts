// Guessing credentials over MQTT: the failed-authentication limit HTTP has applies to MQTT, shared
// (one count per address and per user name), past it CONNACK 5 at once even for the right secret;
// refusals are logged as a bounded summary, and a credential typed as the user name is never
// logged (docs/operations.md, Security; docs/mqtt.md). 3,000 wrong tokens at 1,872/s were once
// all answered, and each refusal was a 191-byte log line.
import { afterAll, describe, expect, it } from 'vitest'
import { memoryAuthFailureLimiter } from '../../gateway/security/auth-failures.ts'
import { bearer, makeApi, type TestApi } from '../api/support.ts'
import { connackOf } from '../support/mqtt-wire.ts'
import { startBroker, type Harness } from './harness.ts'

const harnesses: Harness[] = []
let api: TestApi | undefined
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()))
  await api?.close()
})

/** A clock the test moves, for the one-minute windows. */
function clock() {
  let t = 1_000_000
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

/** A broker whose failed-authentication limits are `limits`, counted on a clock the test moves (the broker stopped after the file). */
async function limitedBroker(limits: { perAddressPerMinute: number; perUsernamePerMinute: number }) {
  const c = clock()
  const h = await startBroker({ authFailures: memoryAuthFailureLimiter({ ...limits, now: c.now }) })
  harnesses.push(h)
  return { c, h }
}

describe('failed-authentication limit over MQTT', () => {
  it('refuses the right secret with 5 once an address passed the limit, until the window ends', async () => {
    const { c, h } = await limitedBroker({ perAddressPerMinute: 5, perUsernamePerMinute: 1000 })
    const secret = await h.addDevice('bf-wl-01')
    const codes: number[] = []
    for (let i = 0; i < 5; i++) codes.push(await connackOf(h.ports.mqtt, 'bf-wl-01', `wrong-${i}`))
    expect(codes).toEqual([4, 4, 4, 4, 4])
    expect(await connackOf(h.ports.mqtt, 'bf-wl-01', secret)).toBe(5)
    expect(await connackOf(h.ports.mqtt, 'token', 'iocgw_guess')).toBe(5)
    expect(await h.counter('mqtt_connect_refused_total', { reason: 'rate_limited' })).toBe(2)
    c.advance(60_001)
    expect(await connackOf(h.ports.mqtt, 'bf-wl-01', secret)).toBe(0)
  })

  it('locks one user name after its limit, from any address, and not the others', async () => {
    const { h } = await limitedBroker({ perAddressPerMinute: 1000, perUsernamePerMinute: 3 })
    const secret = await h.addDevice('bf-wl-02')
    const other = await h.addDevice('bf-wl-03')
    for (let i = 0; i < 3; i++) expect(await connackOf(h.ports.mqtt, 'bf-wl-02', `wrong-${i}`)).toBe(4)
    expect(await connackOf(h.ports.mqtt, 'bf-wl-02', secret)).toBe(5)
    expect(await connackOf(h.ports.mqtt, 'bf-wl-03', other)).toBe(0)
    // Integrations all connect as `token`: wrong tokens never lock that name for the others.
    const token = await h.addToken('viewer')
    for (let i = 0; i < 5; i++) expect(await connackOf(h.ports.mqtt, 'token', `iocgw_wrong-${i}`)).toBe(4)
    expect(await connackOf(h.ports.mqtt, 'token', token)).toBe(0)
  })

  it('shares one count with the HTTP API, both ways', async () => {
    const c = clock()
    const limiter = memoryAuthFailureLimiter({ perAddressPerMinute: 4, now: c.now })
    const h = await startBroker({ authFailures: limiter })
    harnesses.push(h)
    api = await makeApi({ allRoutes: false, limiter })
    const base = await api.app.listen({ port: 0, host: '127.0.0.1' })
    const secret = await h.addDevice('bf-wl-04')

    // HTTP failures lock MQTT out.
    for (let i = 0; i < 4; i++) expect((await fetch(`${base}/api/v1/devices`, { headers: bearer(`iocgw_wrong-${i}`) })).status).toBe(401)
    expect(await connackOf(h.ports.mqtt, 'bf-wl-04', secret)).toBe(5)
    c.advance(60_001)

    // MQTT failures lock HTTP out.
    for (let i = 0; i < 4; i++) expect(await connackOf(h.ports.mqtt, 'bf-wl-04', `wrong-${i}`)).toBe(4)
    const res = await fetch(`${base}/api/v1/devices`, { headers: bearer(api.tokens.admin) })
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})

describe('refusal log', () => {
  it('writes a bounded number of lines for 1,000 refusals, and never a credential typed as the user name', async () => {
    const h = await startBroker({ authFailures: memoryAuthFailureLimiter({ perAddressPerMinute: 50 }), refusalLogIntervalMs: 60_000 })
    const token = await h.addToken('viewer')
    const deviceSecret = await h.addDevice('bf-wl-05')
    // A token and a device secret pasted into the user name field.
    expect(await connackOf(h.ports.mqtt, token, 'x')).toBe(4)
    expect(await connackOf(h.ports.mqtt, deviceSecret, 'x')).toBe(4)
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => connackOf(h.ports.mqtt, `bf-guess-${batch}-${i}`, 'wrong')))
    }
    expect(await h.counter('mqtt_connect_refused_total')).toBe(1002)
    await h.stop()
    const refusalLines = h.lines.filter((l) => l.includes('refus'))
    expect(refusalLines.length).toBeGreaterThan(0)
    expect(refusalLines.length).toBeLessThanOrEqual(3)
    const summary = JSON.parse(refusalLines[0]!) as {
      refused: number
      addresses: Array<{ address: string; count: number; usernames: string[]; reasons: Record<string, number> }>
    }
    expect(summary.refused).toBe(1002)
    expect(summary.addresses[0]).toMatchObject({
      count: 1002,
      reasons: { rate_limited: expect.any(Number), unknown_device: expect.any(Number) },
    })
    expect(summary.addresses[0]!.usernames).toContain('[redacted]')
    const all = h.lines.join('\n')
    expect(all).not.toContain(token)
    expect(all).not.toContain(deviceSecret)
  })
})
