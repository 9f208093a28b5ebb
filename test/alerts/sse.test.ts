import { describe, expect, it } from 'vitest'
import { createAlerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { eventRoutes } from '../../gateway/api/routes/events.ts'
import { buildApi, withDeps } from '../../gateway/api/server.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { useCleanups } from '../support/cleanups.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { GatewayBus, gauge, metrics, quietLogger, stations } from './helpers.ts'

describe('GET /api/v1/events', () => {
  const cleanup = useCleanups()

  it('streams alert changes and coalesced latest readings, refuses no token, and ends streams on shutdown', async () => {
    const dir = tempDir()
    cleanup(dir.remove)
    const registry = openRegistry(dir.path)
    cleanup(() => registry.close())
    const bus = new GatewayBus()
    const alerting = createAlerting({
      bus,
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      rules: parseRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }),
    })
    cleanup(() => alerting.close())
    const api = await buildApi({
      registry,
      metrics: metrics(),
      logger: quietLogger(),
      config: { authFailuresPerMinute: 100 },
      readiness: async () => ({}),
      routes: withDeps({ alerting, bus }, eventRoutes),
    })
    await api.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${(api.server.address() as { port: number }).port}/api/v1/events`
    const viewer = (await registry.createToken({ role: 'viewer', name: 'wall screen' }, { type: 'system', id: 't' })).secret
    expect((await fetch(url)).status).toBe(401)

    const res = await fetch(url, { headers: { authorization: `Bearer ${viewer}` } })
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    let text = ''
    const reading = (async () => {
      const dec = new TextDecoder()
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += dec.decode(chunk)
    })()
    const t = Date.now()
    for (let i = 0; i < 50; i++) bus.emit('reading', gauge('kim-long', t + i, 0.5 + i / 100))
    await alerting.handleReading(gauge('kim-long', t + 100, 1.2))
    await waitFor(() => text.includes('event: alert') && text.includes('event: reading'), 5000)
    // 50 readings of one device within a second: one `reading` event with the latest values.
    expect(text.match(/event: reading/g)).toHaveLength(1)
    expect(text).toContain('"water_level":0.99')
    const alert = JSON.parse(/event: alert\ndata: (.*)\n/.exec(text)![1]!) as {
      kind: string
      change: { action: string }
      history?: unknown
    }
    expect(alert).toMatchObject({ kind: 'water_level', change: { action: 'opened' } })
    expect(alert.history).toBeUndefined()

    await api.close() // must not hang on the open stream
    await reading
    expect(text.endsWith('\n\n')).toBe(true)
  })
})
