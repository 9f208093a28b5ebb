import type { Database } from 'better-sqlite3'
import { scopeSql, type Scope } from '../registry/scope.ts'
import type { OutboxRow } from './notify-state.ts'
import type { ContactChannel, OutboxItem, OutboxState } from './types.ts'

// The outbox as the API lists it (docs/api.md "Notifications"): newest first, one row per message
// and channel, with what the provider last answered. The stored message also holds the address;
// only its text leaves here.

export interface OutboxFilter {
  state?: OutboxState | undefined
  contact?: string | undefined
  alert?: string | undefined
  channel?: ContactChannel | undefined
  /** A scoped caller: only messages about alerts of their places (tests and digests belong to none). */
  scope?: Scope | null | undefined
}

/** An outbox row as the list reads it: with the contact's name, without the key and change number. */
type Row = Omit<OutboxRow, 'key' | 'change_seq' | 'state'> & { contact_name: string | null; state: OutboxState }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

function toItem(r: Row): OutboxItem {
  const msg = JSON.parse(r.message) as { text?: string; digest?: boolean; test?: boolean }
  return {
    id: r.id,
    alert_id: r.alert_id,
    contact: { id: r.contact_id, name: r.contact_name },
    channel: r.channel,
    severity: r.severity,
    kind: msg.test ? 'test' : msg.digest ? 'digest' : 'alert',
    text: msg.text ?? '',
    state: r.state,
    attempts: r.attempts,
    created_at: iso(r.created_at)!,
    sent_at: iso(r.sent_at),
    next_attempt_at: r.state === 'pending' || r.state === 'deferred' ? iso(r.next_at) : null,
    provider_message_id: r.provider_id,
    // A success clears last_error, so a sent row's answer is the provider's acceptance.
    provider_answer: r.last_error ?? (r.state === 'sent' ? `accepted${r.provider_id ? ` (${r.provider_id})` : ''}` : null),
  }
}

export function listOutbox(
  db: Database,
  f: OutboxFilter,
  page: { limit: number; cursor?: number | undefined },
): { items: OutboxItem[]; next: string | null } {
  const where: string[] = []
  const args: Array<string | number> = []
  const eq = (col: string, v: string | undefined) => {
    if (v === undefined) return
    where.push(`${col} = ?`)
    args.push(v)
  }
  eq('o.state', f.state)
  eq('o.contact_id', f.contact)
  eq('o.alert_id', f.alert)
  eq('o.channel', f.channel)
  const scope = scopeSql(f.scope)
  if (scope) {
    where.push(`o.alert_id IN (SELECT id FROM alerts WHERE ${scope.sql})`)
    args.push(...scope.args)
  }
  if (page.cursor !== undefined) {
    where.push('o.id < ?')
    args.push(page.cursor)
  }
  const rows = db
    .prepare(
      `SELECT o.*, c.name AS contact_name FROM outbox o LEFT JOIN contacts c ON c.id = o.contact_id
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY o.id DESC LIMIT ?`,
    )
    .all(...args, page.limit + 1) as Row[]
  const items = rows.slice(0, page.limit).map(toItem)
  return { items, next: rows.length > page.limit ? String(items[items.length - 1]!.id) : null }
}
