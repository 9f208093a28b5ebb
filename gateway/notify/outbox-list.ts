import type { ContactStore } from './contacts.ts'
import type { OutboxFilter, OutboxRow, OutboxStore } from './store.ts'
import type { OutboxItem, OutboxState } from './types.ts'

// The outbox as the API lists it (docs/api.md "Notifications"): newest first, one row per message
// and channel, with what the provider last answered. The stored message also holds the address;
// only its text leaves here.

export type { OutboxFilter } from './store.ts'

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

export async function listOutbox(
  store: OutboxStore,
  contacts: Pick<ContactStore, 'get'>,
  f: OutboxFilter,
  page: { limit: number; cursor?: number | undefined },
): Promise<{ items: OutboxItem[]; next: string | null }> {
  const rows = await store.page(f, page)
  // Contacts are this gateway's (alerts.db): a removed one keeps its messages, without a name.
  const items = rows
    .slice(0, page.limit)
    .map((r) => toItem({ ...r, state: r.state as OutboxState, contact_name: contacts.get(r.contact_id)?.name ?? null }))
  return { items, next: rows.length > page.limit ? String(items[items.length - 1]!.id) : null }
}
