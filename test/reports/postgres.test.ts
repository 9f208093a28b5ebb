import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import { openPostgresOutbox } from '../../gateway/notify/postgres/outbox.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { csvObjects } from '../exports/csv-parse.ts'
import { quietLog, testGatewayConfig } from '../support/gateway-api.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'

// A gateway with postgres.url set (docs/operations.md "Alerts in PostgreSQL"): its situation report
// and its alerts export list an alert another node opened in the shared database, with the
// notification that alert caused, although this node's own alerts.db never held either.

const ADMIN = 'reports-postgres-admin-token-0123456789'
const OPENED = Date.parse('2026-11-20T03:00:00Z')
const PERIOD = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'

describe.skipIf(!requirePostgres())('reports and exports of a gateway with postgres.url', () => {
  const dir = tempDir()
  const other = tempDir()
  let server: PgInstance
  let pool: pg.Pool
  let elsewhere: AlertStore
  let gw: RunningGateway
  let base: string

  beforeAll(async () => {
    server = await startPostgres()
    const url = await server.createDatabase()
    // Another node: its own data directory, the shared database.
    pool = openPgPool(url, { logger: pino({ level: 'silent' }), max: 2 })
    elsewhere = await openAlertStore({ dataDir: other.path, pool })
    const outbox = await openPostgresOutbox(pool, { nodeId: 'node-b', claimMs: 60_000 })
    await elsewhere.insert({
      id: 'pg-alert-1',
      rule: 'wl',
      kind: 'water_level',
      subject: 'station:kim-long',
      station: 'kim-long',
      district: 'Phú Xuân',
      severity: 'major',
      level: 2,
      value: 2.1,
      threshold: 2,
      unit: 'm',
      title: 'Kim Long: báo động II',
      late: false,
      at: new Date(OPENED).toISOString(),
      attentionSince: OPENED,
    })
    // Undeliverable: kept as the record, never sent, so no sender of either node touches it.
    await outbox.insert([
      {
        key: 'pg-alert-1:1:c1:sms',
        alert_id: 'pg-alert-1',
        change_seq: 1,
        contact_id: 'c1',
        channel: 'sms',
        severity: 'major',
        message: JSON.stringify({ text: 'Kim Long: báo động II' }),
        state: 'undeliverable',
        next_at: OPENED,
        created_at: OPENED,
        last_error: 'no SMS provider',
      },
    ])
    const config = testGatewayConfig(dir.path, ADMIN, {
      server: { dataDir: dir.path, logLevel: 'warn', nodeId: 'node-a' },
      postgres: { url },
    })
    gw = await startGateway({ config, notice: () => {}, logDestination: quietLog() })
    base = `http://127.0.0.1:${gw.ports.http}/api/v1`
  }, 180_000)
  afterAll(async () => {
    await gw?.close()
    await elsewhere?.close()
    await pool?.end()
    await server?.stop()
    dir.remove()
    other.remove()
  })

  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })

  it('the report lists the alert opened on another node, and the notification it caused', async () => {
    const res = await get(`/reports?${PERIOD}&lang=en`)
    expect(res.status).toBe(200)
    const report = (await res.json()) as {
      alerts: { opened: number; items: Array<Record<string, unknown>>; notifications: Record<string, unknown> }
    }
    expect(report.alerts.opened).toBe(1)
    expect(report.alerts.items).toEqual([
      expect.objectContaining({
        id: 'pg-alert-1',
        station: 'kim-long',
        level: 2,
        state: 'open',
        notifications: { sent: 0, failed: 1, pending: 0 },
      }),
    ])
    expect(report.alerts.notifications).toEqual({ sent: 0, failed: 1, pending: 0, by_channel: { sms: { sent: 0, failed: 1, pending: 0 } } })
  })

  it('the alerts export lists it too', async () => {
    const res = await get(`/exports/alerts.csv?${PERIOD}`)
    expect(res.status).toBe(200)
    const rows = csvObjects(await res.text())
    expect(rows).toEqual([
      expect.objectContaining({ id: 'pg-alert-1', station: 'kim-long', level: '2', value: '2.1', late: 'false', state: 'open' }),
    ])
  })
})
