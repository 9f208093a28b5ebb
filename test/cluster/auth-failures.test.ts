// Failed authentications counted by the cluster, not per node (docs/operations.md "Failed logins
// across nodes"): two real `iocgw start` processes on one Redis, wrong bearer tokens sent to one
// node and the other in turn; at the limit both refuse the address, over HTTP and MQTT. With each
// node counting alone, neither would (two failures each, of a limit of four).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { connackOf } from '../support/mqtt-wire.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ADMIN = 'cluster-authfail-admin-token-0123456789'
const LIMIT = 4

describe.skipIf(!requireRedis())('failed authentications across two gateway processes', () => {
  const dirs = [tempDir(), tempDir()]
  const models = tempDir('iocgw-no-models-')
  let redis: RedisServer
  const nodes: GatewayProcess[] = []

  beforeAll(async () => {
    redis = await startRedis()
    for (const [i, dir] of dirs.entries()) {
      const file = join(dir.path, 'config.yaml')
      writeFileSync(
        file,
        stringify({
          server: { nodeId: `authfail-${i + 1}` },
          http: { host: '127.0.0.1', authFailuresPerMinute: LIMIT },
          mqtt: { host: '127.0.0.1' },
          redis: { url: redis.url },
          models: { dir: models.path },
          auth: { adminToken: ADMIN },
        }),
      )
      nodes.push(await spawnGateway({ dataDir: dir.path, env: { IOC_CONFIG: file, IOC_MODELS_FALLBACKS: '0' } }))
    }
  }, 120_000)

  afterAll(async () => {
    for (const gw of nodes) await stopGateway(gw)
    await redis?.stop()
    for (const d of [...dirs, models]) d.remove()
  }, 60_000)

  /** A request without credentials: 401, or 429 once the address is past the limit (it adds no failure itself). */
  const probe = async (gw: GatewayProcess): Promise<number> => (await fetch(`${gw.apiUrl}/api/v1/devices`)).status
  const metric = async (gw: GatewayProcess, name: string): Promise<string | undefined> => {
    const text = await (await fetch(`${gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    return new RegExp(`^iocgw_${name} (\\S+)$`, 'm').exec(text)?.[1]
  }

  it('wrong tokens sent to node A and node B in turn reach the limit on both', async () => {
    const [a, b] = nodes as [GatewayProcess, GatewayProcess]
    await waitFor(
      async () => (await metric(a, 'auth_failures_shared')) === '1' && (await metric(b, 'auth_failures_shared')) === '1',
      30_000,
    )
    // Windows are the clock's minutes: four failures must not straddle two of them.
    if (Date.now() % 60_000 > 45_000) await sleep(60_000 - (Date.now() % 60_000))
    const statuses: number[] = []
    for (let i = 0; i < LIMIT; i++) {
      const res = await fetch(`${(i % 2 === 0 ? a : b).apiUrl}/api/v1/devices`, { headers: { authorization: `Bearer iocgw_wrong_${i}` } })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([401, 401, 401, 401])
    await waitFor(async () => (await probe(a)) === 429 && (await probe(b)) === 429, 10_000)
    // The same count for MQTT CONNECT: refused at once, as not authorized.
    expect(await connackOf(b.ports.mqtt, 'token', 'iocgw_wrong_mqtt')).toBe(5)
    expect(await connackOf(a.ports.mqtt, 'token', 'iocgw_wrong_mqtt')).toBe(5)
    const retryAfter = Number((await fetch(`${b.apiUrl}/api/v1/devices`)).headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
  }, 120_000)
})
