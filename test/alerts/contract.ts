import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertStore, NewAlert } from '../../gateway/alerts/store.ts'
import type { AlertHistoryEntry } from '../../gateway/alerts/types.ts'

// The alert store's contract (gateway/alerts/store.ts), run on every implementation: SQLite
// (contract-sqlite.test.ts) and PostgreSQL (contract-postgres.test.ts).

export interface AlertStoreFixture {
  store: AlertStore
  /** Closes everything and deletes the storage. */
  dispose(): Promise<void>
}

const T0 = Date.parse('2026-11-20T00:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

const alert = (id: string, over: Partial<NewAlert> = {}): NewAlert => ({
  id,
  rule: 'wl',
  kind: 'water_level',
  subject: `station:${id}`,
  station: id,
  district: 'Phú Xuân',
  severity: 'minor',
  level: 1,
  value: 1.05,
  threshold: 1,
  unit: 'm',
  title: `Trạm ${id}: báo động I`,
  late: false,
  at: iso(T0),
  attentionSince: T0,
  ...over,
})

const entry = (seq: number, action: AlertHistoryEntry['action'] = 'opened'): AlertHistoryEntry => ({
  seq,
  at: iso(T0 + seq * 1000),
  action,
  severity: 'minor',
  level: 1,
  state: 'open',
  by: 'system',
})

export function alertStoreContract(name: string, make: () => Promise<AlertStoreFixture>): void {
  describe(`alert store contract: ${name}`, () => {
    let fx: AlertStoreFixture
    let store: AlertStore

    beforeEach(async () => {
      fx = await make()
      store = fx.store
    })
    afterEach(async () => {
      await fx.dispose()
    })

    it('inserts and answers an alert by id and as the active one of its (rule, subject); a second open is refused quietly', async () => {
      expect(await store.insert(alert('kim-long', { zone: 'z1', device: 'kl-01', late: true }))).toBe(true)
      const a = await store.get('kim-long')
      expect(a).toEqual({
        id: 'kim-long',
        rule: 'wl',
        kind: 'water_level',
        severity: 'minor',
        level: 1,
        station: 'kim-long',
        device: 'kl-01',
        zone: 'z1',
        district: 'Phú Xuân',
        value: 1.05,
        threshold: 1,
        unit: 'm',
        state: 'open',
        title: 'Trạm kim-long: báo động I',
        late: true,
        opened_at: iso(T0),
        updated_at: iso(T0),
        acknowledged: undefined,
        resolved: undefined,
        tier: 1,
        history: [],
      })
      expect((await store.active('wl', 'station:kim-long'))?.id).toBe('kim-long')
      expect(await store.active('wl', 'station:other')).toBeUndefined()
      expect(await store.get('nope')).toBeUndefined()
      expect(await store.insert(alert('kim-long-2', { subject: 'station:kim-long' }))).toBe(false)
      expect(await store.get('kim-long-2')).toBeUndefined()
      // Once resolved, the (rule, subject) may open again.
      await store.update('kim-long', { updated_at: iso(T0 + 1000), state: 'resolved', resolved: { by: 'system', at: iso(T0 + 1000) } })
      expect(await store.active('wl', 'station:kim-long')).toBeUndefined()
      expect(await store.insert(alert('kim-long-2', { subject: 'station:kim-long' }))).toBe(true)
      expect(await store.subjectOf('kim-long-2')).toBe('station:kim-long')
      expect(await store.subjectOf('nope')).toBeUndefined()
    })

    it('applies update patches, clearing an acknowledgement with null', async () => {
      await store.insert(alert('phu-oc'))
      await store.update('phu-oc', {
        updated_at: iso(T0 + 60_000),
        state: 'acknowledged',
        acknowledged: { by: 'Nguyễn Văn An', at: iso(T0 + 60_000), note: 'Đã báo UBND' },
      })
      expect(await store.get('phu-oc')).toMatchObject({
        state: 'acknowledged',
        updated_at: iso(T0 + 60_000),
        acknowledged: { by: 'Nguyễn Văn An', at: iso(T0 + 60_000), note: 'Đã báo UBND' },
      })
      await store.update('phu-oc', {
        updated_at: iso(T0 + 120_000),
        state: 'open',
        severity: 'major',
        level: 2,
        value: 2.1,
        threshold: 2,
        title: 'II',
        late: true,
        acknowledged: null,
        escalatedTier: 3,
        attentionSince: T0 + 120_000,
      })
      const a = await store.get('phu-oc')
      expect(a).toMatchObject({ state: 'open', severity: 'major', level: 2, value: 2.1, threshold: 2, title: 'II', late: true, tier: 3 })
      expect(a!.acknowledged).toBeUndefined()
      await store.update('phu-oc', {
        updated_at: iso(T0 + 180_000),
        state: 'resolved',
        resolved: { by: 'Trần Bình', at: iso(T0 + 180_000) },
      })
      expect((await store.get('phu-oc'))!.resolved).toEqual({ by: 'Trần Bình', at: iso(T0 + 180_000), note: undefined })
    })

    it('keeps the history in seq order and answers the next seq', async () => {
      await store.insert(alert('a1'))
      expect(await store.nextSeq('a1')).toBe(1)
      await store.appendHistory('a1', entry(1))
      await store.appendHistory('a1', { ...entry(2, 'raised'), note: 'ghi chú', tier: 2, late: true })
      expect(await store.nextSeq('a1')).toBe(3)
      expect((await store.get('a1'))!.history).toEqual([entry(1), { ...entry(2, 'raised'), note: 'ghi chú', tier: 2, late: true }])
    })

    it('lists newest first with filters, a scope and cursors that walk every page once', async () => {
      const spec: Array<[string, Partial<NewAlert>]> = [
        ['kim-long', { station: 'kim-long', district: 'Phú Xuân' }],
        ['phu-oc', { station: 'phu-oc', district: 'Hương Trà', kind: 'rainfall', rule: 'rain' }],
        ['co-bi', { station: 'co-bi', district: 'Phong Điền', device: 'cb-01' }],
        ['thuong-nhat', { station: undefined, district: undefined, device: 'tn-01' }],
        ['a-same', { station: 'x', district: 'Phú Xuân' }],
        ['b-same', { station: 'x', district: 'Phú Xuân' }],
      ]
      for (const [i, [id, over]] of spec.entries())
        await store.insert(alert(id, { ...over, at: iso(id.endsWith('-same') ? T0 + 10_000 : T0 + i * 1000) }))
      await store.update('kim-long', { updated_at: iso(T0 + 5000), state: 'resolved', resolved: { by: 'system', at: iso(T0 + 5000) } })
      const all = await store.list({}, { limit: 50 })
      // Equal times fall back to the id, descending.
      expect(all.items.map((a) => a.id)).toEqual(['b-same', 'a-same', 'kim-long', 'thuong-nhat', 'co-bi', 'phu-oc'])
      expect(all.next).toBeNull()
      const ids = async (f: Parameters<AlertStore['list']>[0]) => (await store.list(f, { limit: 50 })).items.map((a) => a.id)
      expect(await ids({ state: 'resolved' })).toEqual(['kim-long'])
      expect(await ids({ state: 'open', kind: 'rainfall' })).toEqual(['phu-oc'])
      expect(await ids({ station: 'co-bi' })).toEqual(['co-bi'])
      expect(await ids({ device: 'tn-01' })).toEqual(['thuong-nhat'])
      expect(await ids({ scope: { districts: ['Phú Xuân'], stations: ['co-bi'] } })).toEqual(['b-same', 'a-same', 'kim-long', 'co-bi'])
      expect(await ids({ scope: { districts: [], stations: [] } })).toEqual([])
      const seen: string[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.list({}, { limit: 2, cursor })
        seen.push(...page.items.map((a) => a.id))
        if (!page.next) break
        cursor = page.next
      }
      expect(seen).toEqual(all.items.map((a) => a.id))
    })

    it('answers the alerts opened in a period in (opened_at, id) order, filtered, scoped and paged, with their highest level', async () => {
      const spec: Array<[string, number, Partial<NewAlert>]> = [
        ['before', -1000, {}],
        ['kim-long', 0, { station: 'kim-long', district: 'Phú Xuân', late: true, zone: 'z1' }],
        ['phu-oc', 1000, { station: 'phu-oc', district: 'Hương Trà', kind: 'rainfall', rule: 'rain', level: undefined }],
        ['b-same', 2000, { station: 'co-bi', district: 'Phong Điền', device: 'cb-01' }],
        ['a-same', 2000, { station: 'x', district: 'Phú Xuân', value: undefined, threshold: undefined, unit: undefined }],
        ['after', 3000, {}],
      ]
      for (const [id, dt, over] of spec) await store.insert(alert(id, { ...over, at: iso(T0 + dt) }))
      await store.appendHistory('kim-long', entry(1))
      await store.appendHistory('kim-long', { ...entry(2, 'raised'), level: 3 })
      await store.appendHistory('kim-long', { ...entry(3, 'lowered'), level: 2 })
      await store.update('kim-long', {
        updated_at: iso(T0 + 5000),
        state: 'resolved',
        level: 2,
        acknowledged: { by: 'Trực ban', at: iso(T0 + 4000), note: 'đã biết' },
        resolved: { by: 'system', at: iso(T0 + 5000) },
      })
      const period = { from: iso(T0), to: iso(T0 + 3000) }
      const all = await store.openedIn(period, { limit: 50 })
      // Equal times fall back to the id, ascending; `to` is exclusive.
      expect(all.map((a) => a.id)).toEqual(['kim-long', 'phu-oc', 'a-same', 'b-same'])
      expect(all[0]).toEqual({
        id: 'kim-long',
        rule: 'wl',
        kind: 'water_level',
        station: 'kim-long',
        device: null,
        zone: 'z1',
        district: 'Phú Xuân',
        severity: 'minor',
        level: 2,
        value: 1.05,
        threshold: 1,
        unit: 'm',
        state: 'resolved',
        title: 'Trạm kim-long: báo động I',
        late: true,
        opened_at: iso(T0),
        updated_at: iso(T0 + 5000),
        acked_by: 'Trực ban',
        acked_at: iso(T0 + 4000),
        ack_note: 'đã biết',
        resolved_by: 'system',
        resolved_at: iso(T0 + 5000),
        resolve_note: null,
        max_level: 3,
      })
      expect(all[1]).toMatchObject({ id: 'phu-oc', level: null, late: false, max_level: null, acked_by: null })
      expect(all[2]).toMatchObject({ id: 'a-same', value: null, threshold: null, unit: null })
      const ids = async (f: Partial<Parameters<AlertStore['openedIn']>[0]>) =>
        (await store.openedIn({ ...period, ...f }, { limit: 50 })).map((a) => a.id)
      expect(await ids({ kind: 'rainfall' })).toEqual(['phu-oc'])
      expect(await ids({ station: 'co-bi' })).toEqual(['b-same'])
      expect(await ids({ device: 'cb-01' })).toEqual(['b-same'])
      expect(await ids({ district: 'Phú Xuân' })).toEqual(['kim-long', 'a-same'])
      expect(await ids({ scope: { districts: ['Hương Trà'], stations: ['co-bi'] } })).toEqual(['phu-oc', 'b-same'])
      expect(await ids({ scope: { districts: [], stations: [] } })).toEqual([])
      const seen: string[] = []
      let after: { opened_at: string; id: string } | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.openedIn(period, { limit: 1, after })
        seen.push(...page.map((a) => a.id))
        if (page.length < 1) break
        after = { opened_at: page[0]!.opened_at, id: page[0]!.id }
      }
      expect(seen).toEqual(all.map((a) => a.id))
    })

    it('loads, saves and lists rule states', async () => {
      expect(await store.loadRuleState('wl', 'station:kim-long')).toBeUndefined()
      await store.saveRuleStates([
        { rule: 'wl', subject: 'station:kim-long', state: { level: 1, lastTs: T0, alertId: null, data: { s: [[T0, 1.2]] } } },
      ])
      await store.saveRuleStates([{ rule: 'wl', subject: 'station:kim-long', state: { level: 2, lastTs: T0 + 1, alertId: 'a1' } }])
      await store.saveRuleStates([{ rule: 'wl', subject: 'station:phu-oc', state: { level: 0, lastTs: T0 } }])
      await store.saveRuleStates([{ rule: 'quiet', subject: 'device:x', state: { lastSeen: T0 } }])
      expect(await store.loadRuleState('wl', 'station:kim-long')).toEqual({ level: 2, lastTs: T0 + 1, alertId: 'a1' })
      const states = (await store.ruleStates('wl')).sort((a, b) => a.subject.localeCompare(b.subject))
      expect(states).toEqual([
        { subject: 'station:kim-long', state: { level: 2, lastTs: T0 + 1, alertId: 'a1' } },
        { subject: 'station:phu-oc', state: { level: 0, lastTs: T0 } },
      ])
    })

    it('flushes groups of rule states in one call; without leases every group is written', async () => {
      const left = await store.flushRuleStates([
        { states: [{ rule: 'wl', subject: 'station:f1', state: { level: 1 } }] },
        {
          states: [
            { rule: 'wl', subject: 'station:f2', state: { level: 2 } },
            { rule: 'quiet', subject: 'device:f', state: { lastSeen: T0 } },
          ],
        },
        { states: [] },
      ])
      expect(left).toEqual([])
      expect(await store.loadRuleState('wl', 'station:f1')).toEqual({ level: 1 })
      expect(await store.loadRuleState('wl', 'station:f2')).toEqual({ level: 2 })
      expect(await store.loadRuleState('quiet', 'device:f')).toEqual({ lastSeen: T0 })
      expect(await store.flushRuleStates([])).toEqual([])
    })

    it('saves many rule states at once, the later of two for one key kept', async () => {
      await store.saveRuleStates([{ rule: 'wl', subject: 'station:a', state: { level: 0 } }])
      await store.saveRuleStates([
        { rule: 'wl', subject: 'station:a', state: { level: 1 } },
        { rule: 'wl', subject: 'station:b', state: { level: 2 } },
        { rule: 'rise', subject: 'station:a', state: { level: 3 } },
        { rule: 'wl', subject: 'station:a', state: { level: 4, data: { s: [[T0, 1.5]] } } },
      ])
      await store.saveRuleStates([])
      expect(await store.loadRuleState('wl', 'station:a')).toEqual({ level: 4, data: { s: [[T0, 1.5]] } })
      expect(await store.loadRuleState('wl', 'station:b')).toEqual({ level: 2 })
      expect(await store.loadRuleState('rise', 'station:a')).toEqual({ level: 3 })
    })

    it('answers the alerts due for escalation and counts the open ones', async () => {
      await store.insert(alert('old', { attentionSince: T0 }))
      await store.insert(alert('new', { attentionSince: T0 + 600_000 }))
      await store.insert(alert('acked', { attentionSince: T0 }))
      await store.insert(alert('top', { attentionSince: T0 }))
      await store.insert(alert('gone', { attentionSince: T0 }))
      await store.update('acked', { updated_at: iso(T0), state: 'acknowledged', acknowledged: { by: 'x', at: iso(T0) } })
      await store.update('top', { updated_at: iso(T0), escalatedTier: 3 })
      await store.update('gone', { updated_at: iso(T0), state: 'resolved', resolved: { by: 'x', at: iso(T0) } })
      const due = await store.needingEscalation(T0 + 300_000, 3)
      expect(due.map((a) => [a.id, a.escalatedTier, a.attentionSince])).toEqual([['old', 1, T0]])
      expect(await store.countOpen()).toBe(4)
    })

    it('a transaction sees its own writes and commits them together', async () => {
      const out = await store.transaction(async (tx) => {
        await tx.insert(alert('t1'))
        await tx.appendHistory('t1', entry(1))
        await tx.saveRuleStates([{ rule: 'wl', subject: 'station:t1', state: { level: 1, lastTs: T0, alertId: 't1' } }])
        const a = await tx.get('t1')
        expect(a?.history).toHaveLength(1)
        expect(await tx.active('wl', 'station:t1')).toMatchObject({ id: 't1' })
        expect(await tx.nextSeq('t1')).toBe(2)
        return a!.id
      })
      expect(out).toBe('t1')
      expect((await store.get('t1'))!.history).toEqual([entry(1)])
      expect(await store.loadRuleState('wl', 'station:t1')).toEqual({ level: 1, lastTs: T0, alertId: 't1' })
    })

    it('a transaction that throws keeps nothing of it and rejects with the error', async () => {
      await store.insert(alert('kept'))
      const err = await store
        .transaction(async (tx) => {
          await tx.insert(alert('t2'))
          await tx.appendHistory('t2', entry(1))
          await tx.update('kept', { updated_at: iso(T0 + 1), state: 'resolved', resolved: { by: 'x', at: iso(T0 + 1) } })
          await tx.saveRuleStates([{ rule: 'wl', subject: 'station:t2', state: { level: 1 } }])
          throw new Error('refused midway')
        })
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ message: 'refused midway' })
      expect(await store.get('t2')).toBeUndefined()
      expect((await store.get('kept'))!.state).toBe('open')
      expect(await store.loadRuleState('wl', 'station:t2')).toBeUndefined()
      expect(await store.countOpen()).toBe(1)
      // The store is usable afterwards.
      await store.transaction(async (tx) => {
        await tx.insert(alert('t3'))
      })
      expect(await store.countOpen()).toBe(2)
    })

    it('two transactions opening the same (rule, subject) at once end with one active alert, the other told so', async () => {
      const open = (id: string) =>
        store.transaction(async (tx) => {
          const opened = await tx.insert(alert(id, { subject: 'station:race' }))
          if (opened) await tx.appendHistory(id, entry(1))
          return opened
        })
      const results = await Promise.all([open('race-a'), open('race-b'), open('race-c')])
      expect(results.filter(Boolean)).toHaveLength(1)
      const winner = ['race-a', 'race-b', 'race-c'][results.indexOf(true)]
      expect((await store.active('wl', 'station:race'))?.id).toBe(winner)
      expect((await store.list({ state: 'open' }, { limit: 10 })).items.map((a) => a.id)).toEqual([winner])
    })
  })
}
