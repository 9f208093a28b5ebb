// Redis going away in cluster mode (docs/operations.md "MQTT across nodes"): the gateway keeps
// running, /readyz answers 503 with a `redis` check and `iocgw_redis_up` is 0 until Redis is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { startRedis, requireRedis, type RedisServer } from '../support/redis.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ok = requireRedis()
const ADMIN = 'redis-down-admin-token-0123456'

describe.skipIf(!ok)('Redis unreachable in cluster mode', () => {
  let redis: RedisServer
  let gw: RunningGateway
  const dir = tempDir()

  beforeAll(async () => {
    redis = await startRedis()
    const config = loadConfig({
      file: undefined,
      env: {
        IOC_DATA_DIR: dir.path,
        IOC_HTTP_PORT: '0',
        IOC_MQTT_PORT: '0',
        IOC_MQTT_WS_PORT: '0',
        IOC_LOG_LEVEL: 'silent',
        IOC_ADMIN_TOKEN: ADMIN,
        IOC_NODE_ID: 'node-down',
        IOC_REDIS_URL: redis.url,
        IOC_REDIS_HEARTBEAT_MS: '200',
      },
    })
    gw = await startGateway({ config, notice: () => {} })
  }, 90_000)

  afterAll(async () => {
    await gw?.close()
    await redis?.stop()
    dir.remove()
  }, 30_000)

  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)
    return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; detail?: string }> } }
  }
  const redisUp = async () => {
    const res = await fetch(`http://127.0.0.1:${gw.ports.http}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    return /^iocgw_redis_up (\d)$/m.exec(await res.text())?.[1]
  }

  it('says not ready while Redis is down, keeps serving, and is ready again once Redis is back', async () => {
    await waitFor(async () => (await readyz()).body.checks.redis?.ok === true, 20_000)
    expect(await redisUp()).toBe('1')

    await redis.kill()
    const down = await waitFor(async () => {
      const r = await readyz()
      return r.status === 503 && r.body.checks.redis?.ok === false ? r : null
    }, 20_000)
    expect(down.body.checks.redis?.detail).toMatch(/Redis unreachable/)
    expect(await redisUp()).toBe('0')
    // Several heartbeats and will sweeps fail meanwhile; the process stays up and answers.
    await new Promise((r) => setTimeout(r, 2_000))
    expect((await fetch(`http://127.0.0.1:${gw.ports.http}/healthz`)).ok).toBe(true)

    await redis.start()
    await waitFor(async () => (await readyz()).status === 200, 30_000)
    expect(await redisUp()).toBe('1')
  }, 90_000)
})
