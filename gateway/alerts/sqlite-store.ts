import type { Database as Db, Statement } from 'better-sqlite3'
import { patchColumns, rowToAlert, type AlertRow } from './row.ts'
import { alertListWhere, openedInWhere, type AlertStore, type AlertTx, type EscalationCandidate } from './store.ts'
import type { Alert, AlertHistoryEntry } from './types.ts'

// The alert store in the embedded alerts.db (store.ts has the contract). better-sqlite3 answers
// synchronously; the promises only give it the shape PostgreSQL needs. A transaction is BEGIN on
// the connection alerts.db shares with notify and webhooks, so that their synchronous writes made
// during it (ChangeRouter.routeInTx) commit with the alert change.

type Row = AlertRow<number, number>

type Sync<T> = { [K in keyof T]: T[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : never }
type SyncStore = Sync<Omit<AlertTx, 'local'>>

function syncStore(db: Db): SyncStore {
  const st = {
    get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
    active: db.prepare("SELECT * FROM alerts WHERE rule = ? AND subject = ? AND state != 'resolved'"),
    history: db.prepare('SELECT entry FROM alert_history WHERE alert_id = ? ORDER BY seq'),
    // One active alert per (rule, subject) (index alerts_one_active): a second open is no error.
    insert:
      db.prepare(`INSERT INTO alerts (id, rule, kind, subject, station, device, zone, district, severity, level, value, threshold, unit,
      state, title, late, opened_at, updated_at, attention_since) VALUES (@id, @rule, @kind, @subject, @station, @device, @zone, @district,
      @severity, @level, @value, @threshold, @unit, 'open', @title, @late, @at, @at, @attentionSince) ON CONFLICT DO NOTHING`),
    hist: db.prepare('INSERT INTO alert_history (alert_id, seq, entry) VALUES (?, ?, ?)'),
    nextSeq: db.prepare('SELECT coalesce(max(seq), 0) + 1 AS n FROM alert_history WHERE alert_id = ?'),
    loadState: db.prepare('SELECT state FROM rule_state WHERE rule = ? AND subject = ?'),
    saveState: db.prepare(
      'INSERT INTO rule_state (rule, subject, state) VALUES (?, ?, ?) ON CONFLICT (rule, subject) DO UPDATE SET state = excluded.state',
    ),
    states: db.prepare('SELECT subject, state FROM rule_state WHERE rule = ?'),
    escalation: db.prepare("SELECT * FROM alerts WHERE state = 'open' AND attention_since <= ? AND escalated_tier < ? LIMIT 500"),
    countOpen: db.prepare("SELECT count(*) AS n FROM alerts WHERE state != 'resolved'"),
    subjectOf: db.prepare('SELECT subject FROM alerts WHERE id = ?'),
  }
  const updates = new Map<string, Statement>()

  const toAlert = (r: Row): Alert =>
    rowToAlert(
      r,
      r.late === 1,
      (st.history.all(r.id) as Array<{ entry: string }>).map((h) => JSON.parse(h.entry) as AlertHistoryEntry),
    )

  const store: SyncStore = {
    get(id) {
      const r = st.get.get(id) as Row | undefined
      return r ? toAlert(r) : undefined
    },
    active(rule, subject) {
      const r = st.active.get(rule, subject) as Row | undefined
      return r ? toAlert(r) : undefined
    },
    list(filter, page) {
      // Newest first; the cursor is the last (updated_at, id) seen.
      const where = alertListWhere(filter, page.cursor)
      const rows = db
        .prepare(`SELECT * FROM alerts ${where.sql} ORDER BY updated_at DESC, id DESC LIMIT ?`)
        .all(...where.args, page.limit + 1) as Row[]
      const more = rows.length > page.limit
      const items = rows.slice(0, page.limit).map(toAlert)
      const last = items[items.length - 1]
      return { items, next: more && last ? Buffer.from(`${last.updated_at}|${last.id}`).toString('base64url') : null }
    },
    needingEscalation(before, tierBelow): EscalationCandidate[] {
      return (st.escalation.all(before, tierBelow) as Row[]).map((r) => ({
        ...toAlert(r),
        escalatedTier: r.escalated_tier,
        attentionSince: r.attention_since,
      }))
    },
    insert(a) {
      const r = st.insert.run({
        id: a.id,
        rule: a.rule,
        kind: a.kind,
        subject: a.subject,
        station: a.station ?? null,
        device: a.device ?? null,
        zone: a.zone ?? null,
        district: a.district ?? null,
        severity: a.severity,
        level: a.level ?? null,
        value: a.value ?? null,
        threshold: a.threshold ?? null,
        unit: a.unit ?? null,
        title: a.title,
        late: a.late ? 1 : 0,
        at: a.at,
        attentionSince: a.attentionSince,
      })
      return r.changes === 1
    },
    update(id, patch) {
      const cols = patchColumns(patch, (late) => (late ? 1 : 0))
      const names = Object.keys(cols).sort()
      const sig = names.join(',')
      let stmt = updates.get(sig)
      if (!stmt) {
        stmt = db.prepare(`UPDATE alerts SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE id = @id`)
        updates.set(sig, stmt)
      }
      stmt.run({ ...cols, id })
    },
    appendHistory(id, entry) {
      st.hist.run(id, entry.seq, JSON.stringify(entry))
    },
    nextSeq(id) {
      return (st.nextSeq.get(id) as { n: number }).n
    },
    loadRuleState(rule, subject) {
      const r = st.loadState.get(rule, subject) as { state: string } | undefined
      return r ? (JSON.parse(r.state) as unknown) : undefined
    },
    saveRuleStates(states) {
      for (const { rule, subject, state } of states) st.saveState.run(rule, subject, JSON.stringify(state))
    },
    ruleStates(rule) {
      return (st.states.all(rule) as Array<{ subject: string; state: string }>).map((r) => ({
        subject: r.subject,
        state: JSON.parse(r.state) as unknown,
      }))
    },
    countOpen() {
      return (st.countOpen.get() as { n: number }).n
    },
    subjectOf(id) {
      return (st.subjectOf.get(id) as { subject: string } | undefined)?.subject
    },
    openedIn(f, page) {
      // opened_at is stored as toISOString(): its text order is its time order.
      const where = openedInWhere(f, page.after)
      const rows = db
        .prepare(
          `SELECT a.*, (SELECT max(json_extract(h.entry, '$.level')) FROM alert_history h WHERE h.alert_id = a.id) AS max_level
           FROM alerts a ${where.sql} ORDER BY opened_at, id LIMIT ?`,
        )
        .all(...where.args, page.limit) as Array<Row & { max_level: number | null }>
      return rows.map(({ subject: _s, escalated_tier: _t, attention_since: _a, ...r }) => ({ ...r, late: r.late === 1 }))
    },
  }
  return store
}

// One transaction at a time per connection, whoever opens it (several engines may share a file
// in one process): a second BEGIN on an open one would fail.
const locks = new WeakMap<Db, Promise<unknown>>()

function serialised<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(db) ?? Promise.resolve()
  const run = prev.then(fn, fn)
  locks.set(
    db,
    run.catch(() => undefined),
  )
  return run
}

/** `onClose`: what close() releases (e.g. the shared alerts.db), nothing by default. */
export function sqliteAlertStore(db: Db, onClose?: () => void): AlertStore {
  const s = syncStore(db)
  // Every call runs at once; its answer is an already settled promise.
  const wrapped = Object.fromEntries(
    Object.entries(s).map(([k, f]) => [k, (...a: unknown[]) => Promise.resolve((f as (...x: unknown[]) => unknown)(...a))]),
  ) as unknown as Omit<AlertTx, 'local'>
  const tx: AlertTx = { ...wrapped, local: (fn) => fn() }
  const transaction = <T>(fn: (t: AlertTx) => Promise<T>): Promise<T> =>
    serialised(db, async () => {
      db.exec('BEGIN IMMEDIATE')
      // The handle's promises are settled already, so the whole of `fn` runs in microtasks
      // before any timer or I/O callback. Had `fn` waited on anything else, this callback would
      // run first: other code could then have written into this transaction or found it open.
      let crossed = false
      const guard = setImmediate(() => (crossed = true))
      try {
        const v = await fn(tx)
        if (crossed) throw new Error('alert transaction waited on I/O while open on alerts.db: it only may await its handle')
        db.exec('COMMIT')
        return v
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK')
        throw err
      } finally {
        clearImmediate(guard)
      }
    })
  return {
    ...wrapped,
    backend: 'sqlite',
    transaction,
    // No leases here: every group is this node's to write.
    flushRuleStates(groups) {
      const states = groups.flatMap((g) => g.states)
      return transaction((t) => t.saveRuleStates(states)).then(() => [])
    },
    async close() {
      onClose?.()
    },
  }
}
