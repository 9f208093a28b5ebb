import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { alertRoutes } from '../../gateway/api/routes/alerts.ts'
import { subscriptionRoutes } from '../../gateway/api/routes/subscriptions.ts'
import { buildApi, withDeps } from '../../gateway/api/server.ts'
import type { ApiApp } from '../../gateway/api/types.ts'
import type { Metrics } from '../../gateway/metrics/registry.ts'
import { createNotifier } from '../../gateway/notify/notifier.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { gauge, metrics, quietLogger, stations } from '../alerts/helpers.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStandIns, standInConfig } from './standins.ts'
import { capturingLogger } from '../support/log-lines.ts'
import { metricValue } from '../support/metrics.ts'

// A contact on a channel no provider carries: said at start, flagged when the contact is added,
// and each notification it should get is kept as an `undeliverable` outbox row, noted in the
// alert's history and counted (docs/operations.md, "Notifications"; docs/api.md, subscriptions).

interface LogLine {
  level: number
  msg: string
  channel?: string
  contacts?: number
  reason?: string
}

const capture = () => capturingLogger<LogLine>('info')

const undeliverableCount = (m: Metrics, labels: Record<string, string>) => metricValue(m, 'notify_undeliverable_total', labels)

const RULES = parseRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] })

describe('notifications with no provider for the channel', () => {
  let dir: ReturnType<typeof tempDir>
  const cleanups: Array<() => unknown> = []
  beforeEach(async () => {
    dir = tempDir()
  })
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
    dir.remove()
  })

  it('warns at start, and each alert change to an sms contact leaves an undeliverable outbox row, a history entry and a metric', async () => {
    // The contact exists before the gateway (re)starts without any SMS provider.
    const before = createNotifier({ dataDir: dir.path, logger: quietLogger(), metrics: metrics(), config: {}, start: false })
    const contact = await before.contacts.create({
      name: 'Trực ban Kim Long',
      phone: '0905123456',
      role: 'officer',
      stations: ['kim-long'],
      channels: ['sms'],
    })
    await before.close()

    const { lines, logger } = capture()
    const m = metrics()
    const notifier = createNotifier({ dataDir: dir.path, logger, metrics: m, config: {}, stations: stations(), pollMs: 20 })
    cleanups.push(() => notifier.close())
    const startWarnings = lines.filter((l) => l.level === 40 && l.channel === 'sms')
    expect(startWarnings).toHaveLength(1)
    expect(startWarnings[0]).toMatchObject({
      contacts: 1,
      msg: expect.stringMatching(/^sms: no SMS provider configured .*1 contact on sms will not receive alerts/),
    })

    const alerting = createAlerting({ dataDir: dir.path, logger: quietLogger(), metrics: m, stations: stations(), rules: RULES })
    cleanups.push(() => alerting.close())
    alerting.setRouter(notifier)

    await alerting.handleReading(gauge('kim-long', Date.now(), 1.5)) // level I
    await notifier.drain()
    const opened = (await alerting.list({ station: 'kim-long' }, { limit: 1 })).items[0]!
    expect(opened.history.map((h) => h.action)).toEqual(['opened', 'notification_undeliverable'])
    expect(opened.history[1]).toMatchObject({
      seq: 2,
      channel: 'sms',
      reason: 'no_provider',
      contacts: [contact.id],
      by: 'system',
      state: 'open',
      note: expect.stringContaining('no SMS provider configured'),
    })
    const rows = await notifier.outbox()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      state: 'undeliverable',
      alert_id: opened.id,
      change_seq: 1,
      contact_id: contact.id,
      channel: 'sms',
      attempts: 0,
    })
    expect(rows[0]!.last_error).toMatch(/^no_provider: sms: no SMS provider configured/)
    expect(JSON.parse(rows[0]!.message)).toMatchObject({ phone: '0905123456', text: expect.stringContaining('BAO DONG I') })
    expect(await undeliverableCount(m, { channel: 'sms', reason: 'no_provider' })).toBe(1)
    expect(lines.filter((l) => l.msg.startsWith('notification not sent'))).toHaveLength(1)

    await alerting.handleReading(gauge('kim-long', Date.now(), 2.5)) // level II: a second change, a second record
    await notifier.drain()
    const raised = (await alerting.get(opened.id))!
    expect(raised.history.map((h) => `${h.seq}:${h.action}`)).toEqual([
      '1:opened',
      '2:notification_undeliverable',
      '3:raised',
      '4:notification_undeliverable',
    ])
    expect((await notifier.outbox({ state: 'undeliverable' })).map((r) => r.change_seq)).toEqual([1, 3])
    expect(await undeliverableCount(m, { channel: 'sms', reason: 'no_provider' })).toBe(2)
    // Nothing waits to be sent: the rows are final, not pending.
    expect(await notifier.outbox({ state: 'pending' })).toEqual([])
  })

  it('no warning, no undeliverable row when the channel has a provider', async () => {
    const prov = await startStandIns()
    cleanups.push(() => prov.close())
    const { lines, logger } = capture()
    const m = metrics()
    const notifier = createNotifier({
      dataDir: dir.path,
      logger,
      metrics: m,
      config: { ...standInConfig(prov), timeoutMs: 10_000 },
      stations: stations(),
      pollMs: 20,
    })
    cleanups.push(() => notifier.close())
    await notifier.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
    expect(notifier.contactWarnings(['sms', 'zalo_zns', 'zalo_oa'])).toEqual([])
    const alerting = createAlerting({ dataDir: dir.path, logger: quietLogger(), metrics: m, stations: stations(), rules: RULES })
    cleanups.push(() => alerting.close())
    alerting.setRouter(notifier)
    await alerting.handleReading(gauge('kim-long', Date.now(), 1.5))
    await waitFor(async () => (await notifier.outbox({ state: 'sent' })).length === 1, 30_000)
    expect((await notifier.outbox()).map((r) => r.state)).toEqual(['sent'])
    expect((await alerting.list({}, { limit: 1 })).items[0]!.history.map((h) => h.action)).toEqual(['opened'])
    expect(await undeliverableCount(m, {})).toBe(0)
    expect(lines.filter((l) => l.level >= 40)).toEqual([])
  })

  it('POST /subscriptions accepts the contact and its answer flags each channel without a provider; the history shows in GET /alerts/:id', async () => {
    const registry = openRegistry(dir.path)
    cleanups.push(() => registry.close())
    const m = metrics()
    const notifier = createNotifier({ dataDir: dir.path, logger: quietLogger(), metrics: m, config: {}, stations: stations(), pollMs: 20 })
    cleanups.push(() => notifier.close())
    const alerting = createAlerting({ dataDir: dir.path, logger: quietLogger(), metrics: m, stations: stations(), rules: RULES })
    cleanups.push(() => alerting.close())
    alerting.setRouter(notifier)
    const app: ApiApp = await buildApi({
      registry,
      metrics: m,
      logger: quietLogger(),
      config: { authFailuresPerMinute: 1_000_000 },
      readiness: async () => ({}),
      routes: withDeps({ notifier, alerting }, subscriptionRoutes, alertRoutes),
    })
    cleanups.push(() => app.close())
    await app.ready()
    const admin = (await registry.createToken({ role: 'admin', name: 'test admin' }, { type: 'system', id: 'test' })).secret
    const post = async (body: unknown) => {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/subscriptions',
        headers: { authorization: `Bearer ${admin}` },
        payload: body as object,
      })
      return { status: res.statusCode, body: res.json() as Record<string, unknown> }
    }

    const sms = await post({ name: 'Trực ban', phone: '0905123456', zalo_user_id: 'zu-1', role: 'officer', channels: ['sms', 'zalo_oa'] })
    expect(sms.status).toBe(201)
    expect(sms.body.warnings).toEqual([
      'sms: no SMS provider configured (notify.esms, notify.speedsms or notify.twilio); messages to this contact cannot be delivered',
      'zalo_oa: no Zalo OA configured (notify.zalo with notify.zalo.oa); messages to this contact cannot be delivered',
    ])
    expect(notifier.contacts.get(sms.body.id as string)?.channels).toEqual(['sms', 'zalo_oa'])

    await alerting.handleReading(gauge('kim-long', Date.now(), 1.5))
    await notifier.drain()
    const id = (await alerting.list({}, { limit: 1 })).items[0]!.id
    const res = await app.inject({ method: 'GET', url: `/api/v1/alerts/${id}`, headers: { authorization: `Bearer ${admin}` } })
    expect(res.statusCode).toBe(200)
    const history = (res.json() as { history: Array<Record<string, unknown>> }).history
    expect(history.map((h) => [h.action, h.channel, h.reason, h.contacts])).toEqual([
      ['opened', undefined, undefined, undefined],
      ['notification_undeliverable', 'sms', 'no_provider', [sms.body.id]],
      ['notification_undeliverable', 'zalo_oa', 'no_provider', [sms.body.id]],
    ])
  })
})
