import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryAuthFailureLimiter } from '../../gateway/api/auth.ts'
import { bearer, makeApi, type TestApi } from './support.ts'

let api: TestApi
beforeAll(async () => {
  api = await makeApi({ authFailuresPerMinute: 5, allRoutes: false })
})
afterAll(async () => api?.close())

describe('failed-authentication rate limit', () => {
  it('answers 429 after too many bad tokens from one address, even to a good token, but not on public routes', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 5; i++)
      statuses.push((await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: bearer(`iocgw_wrong-${i}`) })).statusCode)
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    const blocked = await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: bearer('iocgw_wrong-again') })
    expect(blocked.statusCode).toBe(429)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    expect(blocked.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' })
    const good = await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: bearer(api.tokens.admin) })
    expect(good.statusCode).toBe(429)
    expect((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    const elsewhere = await api.app.inject({
      method: 'GET',
      url: '/api/v1/devices',
      headers: bearer(api.tokens.admin),
      remoteAddress: '10.9.8.7',
    })
    expect(elsewhere.statusCode).toBe(200)
  })

  it('does not count successes or missing tokens', async () => {
    const addr = '10.1.1.1'
    for (let i = 0; i < 20; i++) {
      expect(
        (await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: bearer(api.tokens.viewer), remoteAddress: addr }))
          .statusCode,
      ).toBe(200)
      expect((await api.app.inject({ method: 'GET', url: '/api/v1/devices', remoteAddress: addr })).statusCode).toBe(401)
    }
  })
})

describe('memoryAuthFailureLimiter', () => {
  it('opens again after the window and stays bounded in keys', () => {
    let now = 1_000_000
    const lim = memoryAuthFailureLimiter({ perAddressPerMinute: 2, maxKeys: 3, now: () => now })
    lim.fail('a')
    expect(lim.blocked('a')).toBe(0)
    lim.fail('a')
    expect(lim.blocked('a')).toBe(60)
    now += 59_500
    expect(lim.blocked('a')).toBe(1)
    now += 600
    expect(lim.blocked('a')).toBe(0)
    lim.fail('b')
    lim.fail('b')
    lim.fail('c')
    lim.fail('d')
    lim.fail('e')
    // 'b' was the oldest of four keys with room for three: forgotten, so it may try again.
    expect(lim.blocked('b')).toBe(0)
  })

  it('counts per user name from any address, and one address however its socket spells it', () => {
    let now = 1_000_000
    const lim = memoryAuthFailureLimiter({ perAddressPerMinute: 3, perUsernamePerMinute: 2, now: () => now })
    lim.fail('10.0.0.1', 'tram-01')
    lim.fail('10.0.0.2', 'tram-01')
    expect(lim.blocked('10.0.0.3', 'tram-01')).toBe(60)
    expect(lim.blocked('10.0.0.3', 'tram-02')).toBe(0)
    expect(lim.blocked('10.0.0.3')).toBe(0)
    lim.fail('::ffff:10.0.0.9')
    lim.fail('10.0.0.9')
    lim.fail('::ffff:10.0.0.9')
    expect(lim.blocked('10.0.0.9')).toBe(60)
    now += 60_001
    expect(lim.blocked('10.0.0.9', 'tram-01')).toBe(0)
  })
})
