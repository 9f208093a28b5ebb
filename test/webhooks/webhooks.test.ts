import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openAlertsDb, type SharedDb } from '../../gateway/alerts/db.ts'
import { createAlerting } from '../../gateway/alerts/engine.ts'
import { sqliteAlertStore } from '../../gateway/alerts/sqlite-store.ts'
import type { Alert, AlertChange, ChangeAction } from '../../gateway/alerts/types.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { raiseWebhookDisabled } from '../../gateway/webhooks/admin-alert.ts'
import { createWebhooks, type Webhooks } from '../../gateway/webhooks/index.ts'
import { freePort, tempDir } from '../support/services.ts'
import { bearer, makeApi } from '../api/support.ts'
import { metrics, quietLogger, stations } from '../alerts/helpers.ts'

// docs/webhooks.md: signed deliveries through the outbox in alerts.db, retried with backoff, in
// order per alert, once each after a receiver comes back, replays recognisable by their key.
// The clock is injected: "down for 60 s" is 60 s of the sender's clock, with real HTTP attempts.

interface Received {
  key: string
  event: string
  body: string
  signature: string
  valid: boolean
  alert?: string
  seq?: number
}

/** The receiver's check exactly as docs/webhooks.md writes it (independent of gateway/webhooks/signing.ts). */
function verify(secret: string, header: string, body: string, nowS: number): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]))
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex')
  return parts.v1 === expected && Math.abs(nowS - Number(parts.t)) <= 300
}

class Receiver {
  server: Server | undefined
  got: Received[] = []
  constructor(
    readonly port: number,
    readonly secret: () => string,
    readonly clock: () => number,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString('utf8')))
      req.on('end', () => {
        const sig = String(req.headers['x-ioc-signature'])
        const parsed = JSON.parse(body) as { data: { alert?: { id: string }; change?: { seq: number } } }
        this.got.push({
          key: String(req.headers['x-ioc-delivery']),
          event: String(req.headers['x-ioc-event']),
          body,
          signature: sig,
          valid: verify(this.secret(), sig, body, Math.floor(this.clock() / 1000)),
          alert: parsed.data.alert?.id,
          seq: parsed.data.change?.seq,
        })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r))
  }
  async down(): Promise<void> {
    await new Promise<void>((r) => this.server!.close(() => r()))
    this.server!.closeAllConnections()
  }
}

const dir = tempDir('iocgw-webhooks-')
let shared: SharedDb
let clock = Date.parse('2026-10-01T00:00:00Z')
let hooks: Webhooks
let rx: Receiver
let secret = ''
const disabled: string[] = []

function alert(id: string, level: number): Alert {
  return {
    id,
    rule: 'water-level',
    kind: 'water_level',
    severity: 'major',
    level,
    station: 'kim-long',
    state: 'open',
    title: `Kim Long ${id}`,
    late: false,
    opened_at: new Date(clock).toISOString(),
    updated_at: new Date(clock).toISOString(),
    tier: 1,
    history: [],
  }
}
/** One alert change committed as the engine commits it: its deliveries in the same transaction. */
async function change(id: string, seq: number, action: ChangeAction): Promise<void> {
  const c: AlertChange = {
    alert: alert(id, seq),
    change: {
      seq,
      at: new Date(clock).toISOString(),
      action,
      severity: 'major',
      state: action === 'resolved' ? 'resolved' : 'open',
      by: 'system',
    },
  }
  await sqliteAlertStore(shared.db).transaction((tx) => hooks.routeInTx(c, tx))
  hooks.kick()
}

beforeAll(async () => {
  shared = openAlertsDb(dir.path)
  hooks = createWebhooks({
    db: shared.db,
    logger: createLogger('silent'),
    metrics: new Metrics({ defaults: false }),
    now: () => clock,
    random: () => 0,
    config: { maxConsecutiveFailures: 50, backoffBaseMs: 5000, backoffMaxMs: 20_000, timeoutMs: 5000, pollMs: 1000 },
    onDisabled: (w) => disabled.push(w.id),
  })
  rx = new Receiver(
    await freePort(),
    () => secret,
    () => clock,
  )
  await rx.up()
  const made = await hooks.registry.create({
    url: `http://127.0.0.1:${rx.port}/hook`,
    events: ['alert.opened', 'alert.level_changed', 'alert.acknowledged', 'alert.resolved'],
  })
  secret = made.secret
})
afterAll(async () => {
  await hooks.close()
  await rx.down().catch(() => undefined)
  shared.release()
  dir.remove()
})

describe('webhook deliveries', () => {
  it('signs every delivery as docs/webhooks.md says, and sends each event once', async () => {
    await change('a1', 1, 'opened')
    await change('a1', 2, 'raised')
    await change('a1', 3, 'escalated') // not a webhook event
    await hooks.drain()
    expect(rx.got.map((g) => [g.event, g.key, g.valid])).toEqual([
      ['alert.opened', 'a1.1', true],
      ['alert.level_changed', 'a1.2', true],
    ])
    // A tampered body or another secret does not verify.
    const g = rx.got[0]!
    expect(verify(secret, g.signature, g.body.replace('Kim', 'Kin'), Math.floor(clock / 1000))).toBe(false)
    expect(verify('whsec_other', g.signature, g.body, Math.floor(clock / 1000))).toBe(false)
  })

  it('after a receiver down for 60 s, delivers every event once, in order per alert', async () => {
    rx.got = []
    await rx.down()
    // Two alerts' changes interleaved while the receiver is down.
    await change('b1', 1, 'opened')
    await change('b2', 1, 'opened')
    await change('b1', 2, 'raised')
    await change('b2', 2, 'acknowledged')
    await change('b1', 3, 'lowered')
    await change('b2', 3, 'resolved')
    await change('b1', 4, 'acknowledged')
    await change('b1', 5, 'resolved')
    await hooks.drain()
    for (let t = 0; t < 60; t += 5) {
      clock += 5000
      await hooks.drain()
    }
    const log = (await hooks.registry.deliveries((await hooks.registry.list())[0]!.id, { limit: 100 })).items
    const pending = log.filter((d) => d.state === 'pending')
    expect(pending).toHaveLength(8)
    expect(Math.max(...pending.map((d) => d.attempts))).toBeGreaterThan(1) // retried, with backoff
    expect(pending.find((d) => d.attempts > 0)?.last_error).toMatch(/ECONNREFUSED/)
    await rx.up()
    clock += 20_000 // the longest backoff
    await hooks.drain()
    expect(rx.got.every((g) => g.valid)).toBe(true)
    const keys = rx.got.map((g) => g.key)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys.sort()).toEqual(['b1.1', 'b1.2', 'b1.3', 'b1.4', 'b1.5', 'b2.1', 'b2.2', 'b2.3'])
    for (const a of ['b1', 'b2']) {
      const seqs = rx.got.filter((g) => g.alert === a).map((g) => g.seq)
      expect(seqs).toEqual([...seqs].sort((x, y) => x! - y!))
    }
  })

  it('a redelivery carries the same key and body, freshly signed', async () => {
    const id = (await hooks.registry.list())[0]!.id
    const first = (await hooks.registry.deliveries(id, { limit: 100 })).items.find((d) => d.key === 'a1.1')!
    expect(first.state).toBe('delivered')
    rx.got = []
    clock += 60_000
    expect((await hooks.registry.redeliver(id, first.id))?.state).toBe('pending')
    await hooks.drain()
    expect(rx.got).toHaveLength(1)
    expect(rx.got[0]!.key).toBe('a1.1')
    expect(rx.got[0]!.valid).toBe(true)
    expect(JSON.parse(rx.got[0]!.body)).toMatchObject({ id: 'a1.1', type: 'alert.opened' })
  })

  it('disables a subscription after its run of failures and raises an admin alert', async () => {
    // Shares alerts.db (one connection per file) with the deliveries above.
    const alerting = createAlerting({
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      now: () => clock,
      rules: { version: 1, rules: [] },
    })
    const strict = createWebhooks({
      db: shared.db,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
      now: () => clock,
      random: () => 0,
      config: { maxConsecutiveFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 1000, timeoutMs: 2000, pollMs: 1000 },
      onDisabled: (w) => void raiseWebhookDisabled(alerting, w),
    })
    const dead = await strict.registry.create({ url: `http://127.0.0.1:${await freePort()}/gone`, events: ['device.offline'] })
    await strict.enqueue({
      id: 'device.x.offline.1',
      type: 'device.offline',
      orderingKey: 'device:x',
      at: new Date(clock).toISOString(),
      data: { device: 'x' },
    })
    for (let i = 0; i < 5; i++) {
      await strict.drain()
      clock += 1000
    }
    const w = (await strict.registry.get(dead.webhook.id))!
    expect(w.enabled).toBe(false)
    expect(w.consecutive_failures).toBe(3)
    expect(w.disabled_reason).toMatch(/3 failed deliveries in a row/)
    await alerting.idle()
    const a = await sqliteAlertStore(shared.db).active('webhooks', `webhook:${w.id}`)
    expect(a).toMatchObject({ kind: 'webhook', state: 'open', severity: 'major' })
    expect(a!.title).toContain('/gone')
    // Its delivery waits (not lost) for the subscription to be enabled again.
    expect((await strict.registry.deliveries(w.id, { limit: 10 })).items[0]).toMatchObject({ state: 'pending', attempts: 3 })
    await strict.close()
    await alerting.close()
  })
})

describe('/api/v1/webhooks', () => {
  it('is for admins; the secret is in the creation answer only; the delivery log and redelivery work', async () => {
    clock = Date.now() // this sender signs with the real clock; the receiver checks the time against it
    const whDir = tempDir('iocgw-webhooks-api-')
    const db = openAlertsDb(whDir.path)
    const wh = createWebhooks({
      db: db.db,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
      config: { maxConsecutiveFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 1000, timeoutMs: 2000, pollMs: 1000 },
    })
    const api2 = await makeApi({ deps: { webhooks: wh } })
    try {
      const url = `http://127.0.0.1:${rx.port}/api-hook`
      const denied = await api2.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(api2.tokens.officer) })
      expect(denied.statusCode).toBe(403)
      const subscribe = (events: string[]) =>
        api2.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(api2.tokens.admin), payload: { url, events } })
      const bad = await subscribe(['alert.exploded'])
      expect(bad.statusCode).toBe(400)
      expect(bad.body).toMatch(/events/)
      const made = await subscribe(['device.offline'])
      expect(made.statusCode).toBe(201)
      const { webhook, secret: s } = made.json() as { webhook: { id: string }; secret: string }
      expect(s).toMatch(/^whsec_/)
      const list = await api2.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(api2.tokens.admin) })
      expect(list.body).not.toContain(s)
      secret = s
      rx.got = []
      await wh.enqueue({
        id: 'device.y.offline.9',
        type: 'device.offline',
        orderingKey: 'device:y',
        at: new Date().toISOString(),
        data: { device: 'y' },
      })
      await wh.drain()
      expect(rx.got.map((g) => [g.key, g.valid])).toEqual([['device.y.offline.9', true]])
      const log = await api2.app.inject({
        method: 'GET',
        url: `/api/v1/webhooks/${webhook.id}/deliveries`,
        headers: bearer(api2.tokens.admin),
      })
      expect(log.statusCode).toBe(200)
      const [d] = (log.json() as { items: Array<{ id: string; state: string; response_code: number; attempts: number; key: string }> })
        .items
      expect(d).toMatchObject({ state: 'delivered', response_code: 204, attempts: 1, key: 'device.y.offline.9' })
      const again = await api2.app.inject({
        method: 'POST',
        url: `/api/v1/webhooks/${webhook.id}/redeliver/${d!.id}`,
        headers: bearer(api2.tokens.admin),
      })
      expect(again.statusCode).toBe(202)
      await wh.drain()
      expect(rx.got.map((g) => g.key)).toEqual(['device.y.offline.9', 'device.y.offline.9'])
      const off = await api2.app.inject({
        method: 'PATCH',
        url: `/api/v1/webhooks/${webhook.id}`,
        headers: bearer(api2.tokens.admin),
        payload: { enabled: false },
      })
      expect(off.json()).toMatchObject({ enabled: false, disabled_reason: 'disabled by an admin' })
      const del = await api2.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${webhook.id}`, headers: bearer(api2.tokens.admin) })
      expect(del.statusCode).toBe(204)
      expect(
        (await api2.app.inject({ method: 'GET', url: `/api/v1/webhooks/${webhook.id}`, headers: bearer(api2.tokens.admin) })).statusCode,
      ).toBe(404)
    } finally {
      await wh.close()
      db.release()
      whDir.remove()
      await api2.close()
    }
  })
})
