import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { NewOutboxRow, OutboxStore } from '../../gateway/notify/store.ts'

// The outbox store's contract (gateway/notify/store.ts), run on every implementation: this
// gateway's alerts.db (outbox-sqlite.test.ts) and PostgreSQL (outbox-postgres.test.ts), each
// with the alert store it shares transactions with.

export interface OutboxFixture {
  alerts: AlertStore
  outbox: OutboxStore
  /** Closes everything and deletes the storage. */
  dispose(): Promise<void>
}

const T0 = Date.parse('2026-11-20T00:00:00Z')

export const row = (key: string, over: Partial<NewOutboxRow> = {}): NewOutboxRow => ({
  key,
  alert_id: null,
  change_seq: null,
  contact_id: 'c1',
  channel: 'sms',
  severity: 'major',
  message: JSON.stringify({ text: `msg ${key}`, phone: '0905123456', summary: key }),
  state: 'pending',
  next_at: T0,
  created_at: T0,
  last_error: null,
  ...over,
})

const newAlert = (id: string) => ({
  id,
  rule: 'wl',
  kind: 'water_level' as const,
  subject: `station:${id}`,
  station: id,
  severity: 'major' as const,
  title: `Trạm ${id}`,
  late: false,
  at: new Date(T0).toISOString(),
  attentionSince: T0,
})

export function outboxContract(name: string, open: () => Promise<OutboxFixture>): void {
  describe(`outbox store contract: ${name}`, () => {
    let f: OutboxFixture
    beforeEach(async () => {
      f = await open()
    }, 60_000)
    afterEach(async () => {
      await f.dispose()
    })

    it('writes the rows of an alert change in its transaction: kept when it commits, gone when it rolls back', async () => {
      await f.alerts.transaction(async (tx) => {
        await tx.insert(newAlert('a1'))
        await f.outbox.insertInTx(tx, [row('a1:1:c1:sms', { alert_id: 'a1', change_seq: 1 })])
      })
      await expect(
        f.alerts.transaction(async (tx) => {
          await tx.insert(newAlert('a2'))
          await f.outbox.insertInTx(tx, [row('a2:1:c1:sms', { alert_id: 'a2', change_seq: 1 })])
          throw new Error('the change fails')
        }),
      ).rejects.toThrow('the change fails')
      expect((await f.outbox.all()).map((r) => r.key)).toEqual(['a1:1:c1:sms'])
      expect(await f.alerts.get('a2')).toBeUndefined()
      expect([...(await f.outbox.present(['a1:1:c1:sms', 'a2:1:c1:sms']))]).toEqual(['a1:1:c1:sms'])
    })

    it('queues a key once', async () => {
      expect(await f.outbox.insert([row('k1'), row('k2')])).toBe(2)
      expect(await f.outbox.insert([row('k1')])).toBe(0)
      await f.alerts.transaction(async (tx) => f.outbox.insertInTx(tx, [row('k2')]))
      expect((await f.outbox.all()).map((r) => r.key)).toEqual(['k1', 'k2'])
    })

    it('hands out due rows oldest first and records a send', async () => {
      await f.outbox.insert([
        row('k1'),
        row('k2', { next_at: T0 + 60_000 }),
        row('k3', { state: 'undeliverable', last_error: 'no_address' }),
      ])
      const due = await f.outbox.claimDue(T0, 32)
      expect(due.map((r) => r.key)).toEqual(['k1'])
      expect(due[0]).toMatchObject({ state: 'pending', attempts: 0, next_at: T0, created_at: T0, sent_at: null, channel: 'sms' })
      expect(await f.outbox.nextDue()).toBe(T0)
      expect(await f.outbox.pendingCount()).toBe(2)
      expect(await f.outbox.markSending(due[0]!.id, T0)).toBe(true)
      expect(await f.outbox.markSending(due[0]!.id, T0)).toBe(false)
      expect(await f.outbox.claimDue(T0, 32)).toEqual([])
      await f.outbox.markSent(due[0]!.id, T0 + 5, 'sms-1')
      expect(await f.outbox.byKey('k1')).toMatchObject({
        state: 'sent',
        sent_at: T0 + 5,
        provider_id: 'sms-1',
        attempts: 1,
        last_error: null,
      })
      expect(await f.outbox.sentInWindow('c1', 'sms', T0)).toBe(1)
      expect(await f.outbox.sentInWindow('c1', 'sms', T0 + 5)).toBe(0)
      expect(await f.outbox.nextDue()).toBe(T0 + 60_000)
      expect((await f.outbox.claimDue(T0 + 60_000, 32)).map((r) => r.key)).toEqual(['k2'])
    })

    it('moves a row to another state and makes it due again at its new time', async () => {
      await f.outbox.insert([row('k1')])
      const [r] = await f.outbox.claimDue(T0, 32)
      await f.outbox.setState(r!.id, 'deferred', T0 + 1000, 'quiet hours')
      expect(await f.outbox.claimDue(T0 + 999, 32)).toEqual([])
      expect(await f.outbox.claimDue(T0 + 1000, 32)).toMatchObject([{ key: 'k1', state: 'deferred', last_error: 'quiet hours' }])
      expect(await f.outbox.all('deferred')).toHaveLength(1)
    })

    it('makes one digest of the held rows of a contact and channel', async () => {
      await f.outbox.insert([row('h1'), row('h2'), row('h3', { contact_id: 'c2' })])
      for (const r of await f.outbox.claimDue(T0, 32)) await f.outbox.setState(r.id, 'held', r.next_at, 'rate limit')
      const groups = (await f.outbox.heldGroups()).sort((a, b) => a.contact_id.localeCompare(b.contact_id))
      expect(groups.map((g) => [g.contact_id, g.n])).toEqual([
        ['c1', 2],
        ['c2', 1],
      ])
      const seen: string[][] = []
      const make = (rows: Array<{ key: string }>) => {
        seen.push(rows.map((r) => r.key))
        return row(`digest:c1:sms:${rows[0]!.key}`)
      }
      await Promise.all([f.outbox.digest('c1', 'sms', make), f.outbox.digest('c1', 'sms', make)])
      expect(seen).toEqual([['h1', 'h2']])
      expect((await f.outbox.all('digested')).map((r) => r.key)).toEqual(['h1', 'h2'])
      expect((await f.outbox.claimDue(T0, 32)).map((r) => r.key)).toEqual(['digest:c1:sms:h1'])
    })

    it('answers the rows a stopped sender left in `sending` at start', async () => {
      await f.outbox.insert([row('k1'), row('k2')])
      const [r] = await f.outbox.claimDue(T0, 32)
      await f.outbox.markSending(r!.id, T0)
      expect(await f.outbox.abandoned(T0, true)).toEqual([{ id: r!.id, channel: 'sms' }])
    })

    it('lists newest first with filters and a cursor, and knows what a contact was told', async () => {
      await f.alerts.insert(newAlert('a1'))
      await f.outbox.insert([
        row('a1:1:c1:sms', { alert_id: 'a1' }),
        row('a1:1:c2:sms', { alert_id: 'a1', contact_id: 'c2' }),
        row('other', { contact_id: 'c2', channel: 'zalo_oa' }),
      ])
      const p1 = await f.outbox.page({}, { limit: 2 })
      expect(p1.map((r) => r.key)).toEqual(['other', 'a1:1:c2:sms', 'a1:1:c1:sms'])
      expect((await f.outbox.page({}, { limit: 2, cursor: p1[1]!.id })).map((r) => r.key)).toEqual(['a1:1:c1:sms'])
      expect((await f.outbox.page({ contact: 'c2', alert: 'a1' }, { limit: 10 })).map((r) => r.key)).toEqual(['a1:1:c2:sms'])
      expect((await f.outbox.page({ channel: 'zalo_oa', state: 'pending' }, { limit: 10 })).map((r) => r.key)).toEqual(['other'])
      expect((await f.outbox.page({ scope: { stations: ['a1'], districts: [] } }, { limit: 10 })).map((r) => r.key)).toEqual([
        'a1:1:c2:sms',
        'a1:1:c1:sms',
      ])
      expect(await f.outbox.page({ scope: { stations: ['elsewhere'], districts: [] } }, { limit: 10 })).toEqual([])
      expect(await f.outbox.alertState('a1')).toEqual({ state: 'open', resolved_at: null })
      expect(await f.outbox.alertState('nope')).toBeUndefined()
      expect(await f.outbox.toldBefore('a1', 'c1', 'sms')).toBe(false)
      const r = (await f.outbox.byKey('a1:1:c1:sms'))!
      await f.outbox.markSending((await f.outbox.claimDue(T0, 1))[0]!.id, T0)
      await f.outbox.markSent(r.id, T0, 'p')
      expect(await f.outbox.toldBefore('a1', 'c1', 'sms')).toBe(true)
    })

    it('prunes finished rows older than the cut, and keeps the rest', async () => {
      await f.outbox.insert([
        row('old', { state: 'undeliverable' }),
        row('young', { state: 'undeliverable', created_at: T0 + 10 }),
        row('live'),
      ])
      await f.outbox.prune(T0 + 1)
      expect((await f.outbox.all()).map((r) => r.key)).toEqual(['young', 'live'])
    })

    it('counts the messages of given alerts by channel and state, in (alert_id, channel, state) order', async () => {
      await f.outbox.insert([
        row('b:1', { alert_id: 'b-alert', channel: 'zalo_oa' }),
        row('b:2', { alert_id: 'b-alert', channel: 'sms', state: 'undeliverable' }),
        row('b:3', { alert_id: 'b-alert', channel: 'sms', state: 'undeliverable', contact_id: 'c2' }),
        row('a:1', { alert_id: 'a-alert' }),
        row('other', { alert_id: 'other' }),
        row('none'),
      ])
      expect(await f.outbox.countsByAlert(['b-alert', 'a-alert', 'missing'])).toEqual([
        { alert_id: 'a-alert', channel: 'sms', state: 'pending', n: 1 },
        { alert_id: 'b-alert', channel: 'sms', state: 'undeliverable', n: 2 },
        { alert_id: 'b-alert', channel: 'zalo_oa', state: 'pending', n: 1 },
      ])
      expect(await f.outbox.countsByAlert([])).toEqual([])
    })
  })
}
