import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway } from '../support/gateway-process.ts'
import { useCleanups } from '../support/cleanups.ts'
import { tempDir, waitFor } from '../support/services.ts'

describe('iocgw start (a real process, as on a fresh clone)', () => {
  const cleanup = useCleanups()

  it('comes up with embedded defaults, says where it listens, prints the bootstrap token once', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const gw = await spawnGateway({ dataDir: dir.path })
    cleanup(() => stopGateway(gw))
    const out = gw.output()
    expect(out).toContain(`http://127.0.0.1:${gw.ports.http}/api/v1`)
    expect(out).toContain(`mqtt://127.0.0.1:${gw.ports.mqtt}`)
    expect(out).toContain(`ws://127.0.0.1:${gw.ports.ws}/mqtt`)
    const token = /Bootstrap admin token[^:]*: (\S+)/.exec(out)?.[1]
    expect(token).toMatch(/^iocgw_/)

    expect((await fetch(`${gw.apiUrl}/healthz`)).status).toBe(200)
    // Ready once the vision models are loaded in their workers.
    const ready = await waitFor(
      async () => {
        const r = await fetch(`${gw.apiUrl}/readyz`)
        return r.status === 200 ? ((await r.json()) as { checks: Record<string, { ok: boolean }> }) : undefined
      },
      120_000,
      200,
    )
    expect(Object.keys(ready.checks).sort()).toEqual(['broker', 'model', 'store'])
    const devices = await fetch(`${gw.apiUrl}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } })
    expect(devices.status).toBe(200)

    // SIGTERM stops it cleanly; a second start on the same data neither prints nor needs a new token.
    expect(await stopGateway(gw)).toBe(0)
    const again = await spawnGateway({ dataDir: dir.path })
    cleanup(() => stopGateway(again))
    expect(again.output()).not.toContain('Bootstrap admin token')
    const still = await fetch(`${again.apiUrl}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } })
    expect(still.status).toBe(200)
    // Two starts, each loading the models in its workers: generous on a loaded box.
  }, 240_000)

  it('uses IOC_ADMIN_TOKEN as the bootstrap token and never prints it', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const secret = 'configured-admin-token-0123456789'
    const gw = await spawnGateway({ dataDir: dir.path, env: { IOC_ADMIN_TOKEN: secret, IOC_LOG_LEVEL: 'debug' } })
    cleanup(() => stopGateway(gw))
    const res = await fetch(`${gw.apiUrl}/api/v1/tokens`, { headers: { authorization: `Bearer ${secret}` } })
    expect(res.status).toBe(200)
    expect(gw.output()).not.toContain(secret)
    expect(gw.output()).not.toContain('Bootstrap admin token')
  })

  it('a port already in use gives one clear line and exit code 1, and keeps the bootstrap token for the next start', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '0.0.0.0', r))
    cleanup(() => new Promise<void>((r) => blocker.close(() => r())))
    const port = (blocker.address() as { port: number }).port
    const gw = await spawnGateway({ dataDir: dir.path, ports: { http: port }, waitReady: false })
    expect(await gw.exited).toBe(1)
    // Only the reason: no bootstrap token is printed (or stored) by a start that failed.
    const lines = gw
      .output()
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
    expect(lines).toEqual([expect.stringContaining(`HTTP port ${port} is already in use`)])
    expect(gw.output()).not.toMatch(/\n\s+at /)

    // The next start on the same data directory prints the token, and it works.
    const next = await spawnGateway({ dataDir: dir.path })
    cleanup(() => stopGateway(next))
    const token = /Bootstrap admin token[^:]*: (\S+)/.exec(next.output())?.[1]
    expect(token).toMatch(/^iocgw_/)
    const res = await fetch(`${next.apiUrl}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
  })

  it('a bad stations file stops start-up without printing a bootstrap token', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const stations = join(dir.path, 'stations.yaml')
    writeFileSync(stations, 'stations: [ {id: 1\n')
    const config = join(dir.path, 'gateway.yaml')
    writeFileSync(config, `ingest:\n  stationsFile: ${stations}\n`)
    const gw = await spawnGateway({ dataDir: join(dir.path, 'data'), env: { IOC_CONFIG: config }, waitReady: false })
    expect(await gw.exited).toBe(1)
    expect(gw.output()).toContain('stations.yaml')
    expect(gw.output()).not.toContain('Bootstrap admin token')
  })

  it('a bad configuration value stops start-up with one line naming the key', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const gw = await spawnGateway({ dataDir: dir.path, env: { IOC_MQTT_PORT: 'eighty' }, waitReady: false })
    expect(await gw.exited).toBe(1)
    expect(gw.output().trim()).toMatch(/^[^\n]*mqtt\.port[^\n]*eighty[^\n]*$/)
  })
})
