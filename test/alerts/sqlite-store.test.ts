import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openAlertsDb, type SharedDb } from '../../gateway/alerts/db.ts'
import { sqliteAlertStore } from '../../gateway/alerts/sqlite-store.ts'
import type { AlertStore, NewAlert } from '../../gateway/alerts/store.ts'
import { tempDir } from '../support/services.ts'

// What only the alerts.db store has (the shared contract is in contract.ts): its transaction is the
// one the notification outbox and webhook deliveries write in (AlertTx.local), and it may not stay
// open while anything but its own calls is awaited.

const a1: NewAlert = {
  id: 'a1',
  rule: 'wl',
  kind: 'water_level',
  subject: 'station:kim-long',
  station: 'kim-long',
  severity: 'minor',
  title: 'Kim Long',
  late: false,
  at: '2026-11-20T00:00:00.000Z',
  attentionSince: 0,
}

describe('alert store in alerts.db', () => {
  let dir: ReturnType<typeof tempDir>
  let shared: SharedDb
  let store: AlertStore
  beforeEach(() => {
    dir = tempDir()
    shared = openAlertsDb(dir.path)
    shared.db.exec('CREATE TABLE side (n INTEGER)')
    store = sqliteAlertStore(shared.db)
  })
  afterEach(() => {
    shared.release()
    dir.remove()
  })
  const sideRows = () => (shared.db.prepare('SELECT count(*) AS n FROM side').get() as { n: number }).n

  it('commits synchronous writes made through local() with the alert change, and rolls them back with it', async () => {
    await store.transaction(async (tx) => {
      await tx.insert(a1)
      tx.local(() => shared.db.prepare('INSERT INTO side (n) VALUES (1)').run())
    })
    expect(sideRows()).toBe(1)
    await expect(
      store.transaction(async (tx) => {
        await tx.insert({ ...a1, id: 'a2', subject: 'station:phu-oc' })
        tx.local(() => shared.db.prepare('INSERT INTO side (n) VALUES (2)').run())
        throw new Error('undone')
      }),
    ).rejects.toThrow('undone')
    expect(sideRows()).toBe(1)
    expect(await store.get('a2')).toBeUndefined()
  })

  it('refuses, and undoes, a transaction that awaited I/O or a timer while open', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.insert(a1)
        await new Promise((r) => setTimeout(r, 5))
      }),
    ).rejects.toThrow(/waited on I\/O/)
    expect(shared.db.inTransaction).toBe(false)
    expect(await store.get('a1')).toBeUndefined()
  })

  it('runs transactions on one connection one after the other', async () => {
    const order: string[] = []
    await Promise.all(
      ['x', 'y', 'z'].map((id) =>
        store.transaction(async (tx) => {
          order.push(`begin ${id}`)
          await tx.insert({ ...a1, id, subject: `station:${id}` })
          await tx.get(id)
          order.push(`end ${id}`)
        }),
      ),
    )
    expect(order).toEqual(['begin x', 'end x', 'begin y', 'end y', 'begin z', 'end z'])
    expect(await store.countOpen()).toBe(3)
  })
})
