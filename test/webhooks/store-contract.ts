import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { OutgoingEvent, WebhookEvent } from '../../gateway/webhooks/events.ts'
import type { WebhookStore } from '../../gateway/webhooks/store.ts'

// The webhook store's contract (gateway/webhooks/store.ts), run on every implementation: this
// gateway's alerts.db (store-sqlite.test.ts) and PostgreSQL (store-postgres.test.ts), each with the
// alert store it shares transactions with. The stores read the clock the fixture is given.

export interface WebhookStoreFixture {
  alerts: AlertStore
  store: WebhookStore
  /** Closes everything and deletes the storage. */
  dispose(): Promise<void>
}

export const T0 = Date.parse('2026-11-20T00:00:00Z')

/** An event of `type` on ordering key `key` (one device or alert), with id `id`. */
export const event = (id: string, key = 'device:x', type: WebhookEvent = 'device.offline'): OutgoingEvent => ({
  id,
  type,
  orderingKey: key,
  at: new Date(T0).toISOString(),
  data: { device: key },
})

const HOOK = { url: 'http://127.0.0.1:9/hook', events: ['device.offline', 'alert.opened'] as WebhookEvent[] }

export function webhookStoreContract(name: string, open: (now: () => number) => Promise<WebhookStoreFixture>): void {
  describe(`webhook store contract: ${name}`, () => {
    let f: WebhookStoreFixture
    let clock = T0
    beforeEach(async () => {
      clock = T0
      f = await open(() => clock)
    }, 60_000)
    afterEach(async () => {
      await f.dispose()
    })

    it('keeps subscriptions; the secret is answered at creation only', async () => {
      const a = await f.store.create({ ...HOOK, description: 'IOC', secret: 'whsec_given_0123456789' })
      expect(a.secret).toBe('whsec_given_0123456789')
      clock += 1000
      const b = await f.store.create({ url: 'http://127.0.0.1:9/other', events: ['report.ready'] })
      expect(b.secret).toMatch(/^whsec_/)
      expect(a.webhook).toEqual({
        id: expect.stringMatching(/^wh[0-9a-f]{12}$/),
        url: HOOK.url,
        events: HOOK.events,
        description: 'IOC',
        enabled: true,
        consecutive_failures: 0,
        created_at: new Date(T0).toISOString(),
        updated_at: new Date(T0).toISOString(),
      })
      expect(await f.store.get(a.webhook.id)).toEqual(a.webhook)
      expect((await f.store.list()).map((w) => w.id)).toEqual([a.webhook.id, b.webhook.id])
      expect(JSON.stringify(await f.store.list())).not.toContain(a.secret)
      expect(await f.store.get('wh-none')).toBeUndefined()

      clock += 1000
      const at = new Date(clock).toISOString()
      expect(await f.store.update(a.webhook.id, { url: 'http://127.0.0.1:9/new', events: ['alert.opened'] })).toMatchObject({
        url: 'http://127.0.0.1:9/new',
        events: ['alert.opened'],
        description: 'IOC',
        updated_at: at,
      })
      expect(await f.store.update(a.webhook.id, { enabled: false })).toMatchObject({
        enabled: false,
        disabled_at: at,
        disabled_reason: 'disabled by an admin',
      })
      const back = await f.store.update(a.webhook.id, { enabled: true })
      expect(back).toMatchObject({ enabled: true, consecutive_failures: 0 })
      expect(back!.disabled_at).toBeUndefined()
      expect(back!.disabled_reason).toBeUndefined()
      expect(await f.store.update('wh-none', { enabled: true })).toBeUndefined()
      expect(await f.store.remove(b.webhook.id)).toBe(true)
      expect(await f.store.remove(b.webhook.id)).toBe(false)
      expect((await f.store.list()).map((w) => w.id)).toEqual([a.webhook.id])
    })

    it("queues an alert change's deliveries in its transaction: kept when it commits, gone when it rolls back", async () => {
      const { webhook: w } = await f.store.create(HOOK)
      await f.store.create({ url: 'http://127.0.0.1:9/reports', events: ['report.ready'] })
      expect(await f.alerts.transaction((tx) => f.store.queueInTx(tx, event('a1.1', 'alert:a1', 'alert.opened')))).toBe(1)
      await expect(
        f.alerts.transaction(async (tx) => {
          await f.store.queueInTx(tx, event('a2.1', 'alert:a2', 'alert.opened'))
          throw new Error('the change fails')
        }),
      ).rejects.toThrow('the change fails')
      // The same event again is not queued twice; an event nobody asked for is not queued.
      expect(await f.alerts.transaction((tx) => f.store.queueInTx(tx, event('a1.1', 'alert:a1', 'alert.opened')))).toBe(0)
      expect(await f.store.queue(event('a3.1', 'alert:a3', 'alert.resolved'))).toBe(0)
      const log = await f.store.deliveries(w.id, { limit: 10 })
      expect(log.items).toEqual([
        {
          id: expect.stringMatching(/^d[0-9a-f]{16}$/),
          webhook: w.id,
          key: 'a1.1',
          event: 'alert.opened',
          state: 'pending',
          attempts: 0,
          next_attempt_at: new Date(T0).toISOString(),
          created_at: new Date(T0).toISOString(),
        },
      ])
      expect(await f.store.pendingCount()).toBe(1)
    })

    it('hands out the first pending delivery of each ordering key, oldest first, with what signs it', async () => {
      const { webhook: w, secret } = await f.store.create(HOOK)
      for (const id of ['x1', 'x2']) await f.store.queue(event(id, 'device:x'))
      await f.store.queue(event('y1', 'device:y'))
      const due = await f.store.claimDue(clock, 10)
      expect(due.map((d) => [d.event_id, d.url, d.secret])).toEqual([
        ['x1', HOOK.url, secret],
        ['y1', HOOK.url, secret],
      ])
      expect(JSON.parse(due[0]!.body)).toEqual({
        id: 'x1',
        type: 'device.offline',
        created_at: new Date(T0).toISOString(),
        data: { device: 'device:x' },
      })
      expect(await f.store.startAttempt(due[0]!.n, clock)).toBe(true)
      await f.store.delivered(due[0]!, clock + 5, 204)
      expect(await f.store.startAttempt(due[0]!.n, clock)).toBe(false)
      await f.store.release([due[1]!.n])
      // x1 delivered: x2 is next of its key; y1 still waits.
      expect((await f.store.claimDue(clock + 10, 10)).map((d) => d.event_id)).toEqual(['x2', 'y1'])
      const [x1] = (await f.store.deliveries(w.id, { limit: 10 })).items.filter((d) => d.key === 'x1')
      expect(x1).toMatchObject({ state: 'delivered', attempts: 1, response_code: 204, delivered_at: new Date(clock + 5).toISOString() })
      expect(x1!.next_attempt_at).toBeUndefined()
      expect(await f.store.pendingCount()).toBe(2)
    })

    it('retries a failed delivery later, holding the rest of its key, and disables the subscription once after its run of failures', async () => {
      const { webhook: w } = await f.store.create(HOOK)
      await f.store.queue(event('x1'))
      await f.store.queue(event('x2'))
      const fail = async () => {
        const [d] = await f.store.claimDue(clock, 10)
        expect(d?.event_id).toBe('x1')
        return f.store.failed(d!, { at: clock, nextAt: clock + 1000, status: 503, error: 'HTTP 503', maxFailures: 2 })
      }
      expect(await fail()).toBeUndefined()
      // Not due before its next attempt; x2 waits behind it.
      expect(await f.store.claimDue(clock + 999, 10)).toEqual([])
      expect(await f.store.anyDue(clock + 999)).toBe(false)
      clock += 1000
      expect(await f.store.anyDue(clock)).toBe(true)
      const off = await fail()
      expect(off).toMatchObject({
        id: w.id,
        enabled: false,
        consecutive_failures: 2,
        disabled_reason: '2 failed deliveries in a row (last: HTTP 503)',
      })
      // A disabled subscription's deliveries wait, not lost.
      expect(await f.store.claimDue(clock + 10_000, 10)).toEqual([])
      const [x1] = (await f.store.deliveries(w.id, { limit: 10 })).items.filter((d) => d.key === 'x1')
      expect(x1).toMatchObject({ state: 'pending', attempts: 2, response_code: 503, last_error: 'HTTP 503' })
      // Enabled again: a fresh run, and what waited is due now.
      clock += 5
      await f.store.update(w.id, { enabled: true })
      const [d] = await f.store.claimDue(clock, 10)
      expect(d?.event_id).toBe('x1')
      await f.store.delivered(d!, clock, 200)
      expect(await f.store.get(w.id)).toMatchObject({ enabled: true, consecutive_failures: 0 })
    })

    it('pages the delivery log newest first, redelivers with the same key, and removes it with its subscription', async () => {
      const { webhook: w } = await f.store.create(HOOK)
      for (const id of ['k1', 'k2', 'k3']) await f.store.queue(event(id, `device:${id}`))
      const first = await f.store.deliveries(w.id, { limit: 2 })
      expect(first.items.map((d) => d.key)).toEqual(['k3', 'k2'])
      expect(first.next).toMatch(/^[0-9]+$/)
      const second = await f.store.deliveries(w.id, { limit: 2, before: Number(first.next) })
      expect(second).toEqual({ items: [expect.objectContaining({ key: 'k1' })], next: null })
      const [d] = await f.store.claimDue(clock, 1)
      await f.store.delivered(d!, clock, 200)
      clock += 60_000
      const again = await f.store.redeliver(w.id, second.items[0]!.id)
      expect(again).toMatchObject({ key: 'k1', state: 'pending', next_attempt_at: new Date(clock).toISOString() })
      expect(await f.store.redeliver(w.id, 'd-none')).toBeUndefined()
      expect(await f.store.remove(w.id)).toBe(true)
      expect((await f.store.deliveries(w.id, { limit: 10 })).items).toEqual([])
      expect(await f.store.pendingCount()).toBe(0)
    })
  })
}
