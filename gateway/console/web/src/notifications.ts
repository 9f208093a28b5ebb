import type { Kind, Severity } from './alerts.ts'
import type { ContactChannel, OutboxItem, OutboxState } from '../../../notify/types.ts'
import { allPages, api, type Page, type Role } from './api.ts'

// The Notifications page's data (docs/api.md, "Rules and subscriptions" and "Notifications"):
// contacts with their filters and quiet hours, test messages, and the outbox. Plain functions, no
// DOM: Node tests can import them too.

// The channels and outbox states are the gateway's own lists.
export { CONTACT_CHANNELS as CHANNELS, OUTBOX_STATES, type OutboxState } from '../../../notify/types.ts'
export type Channel = ContactChannel

export interface QuietHours {
  from: string
  to: string
  bypass: Severity
}

export interface Contact {
  id: string
  name: string
  phone?: string
  zalo_user_id?: string
  role: Role
  tier: number
  kinds?: Kind[]
  stations?: string[]
  districts?: string[]
  min_severity: Severity
  channels: Channel[]
  quiet_hours?: QuietHours
  created_at: string
  warnings?: string[]
}

/** What the form sends: POST takes it whole; PATCH takes it with null for a field left empty. */
export type ContactInput = Omit<Contact, 'id' | 'created_at' | 'warnings' | 'quiet_hours'> & { quiet_hours?: QuietHours | null }

export interface TestResult {
  channel: Channel
  ok: boolean
  code?: string
  message?: string
}

export type Notification = OutboxItem

// Every contact, however many pages: one left out could not be edited or removed here.
export const listContacts = () => allPages<Contact>('/subscriptions', Infinity)

/** Optional fields left empty: left out of a POST, null in a PATCH (removes them). */
function body(c: ContactInput, forPatch: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(c)) {
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
    if (!empty) out[k] = v
    else if (forPatch && k !== 'channels') out[k] = null
  }
  return out
}

export const addContact = (c: ContactInput) => api.post<Contact>('/subscriptions', body(c, false))
export const editContact = (id: string, c: ContactInput) => api.patch<Contact>(`/subscriptions/${encodeURIComponent(id)}`, body(c, true))
export const removeContact = (id: string) => api.delete<void>(`/subscriptions/${encodeURIComponent(id)}`)
export const sendTest = (id: string) => api.post<{ results: TestResult[] }>('/notify/test', { contact: id }).then((r) => r.results)

export function listNotifications(f: { state?: OutboxState | ''; channel?: Channel | '' }, limit = 100): Promise<Page<Notification>> {
  const q = new URLSearchParams({ limit: String(limit) })
  if (f.state) q.set('state', f.state)
  if (f.channel) q.set('channel', f.channel)
  return api.get(`/notifications?${q.toString()}`)
}

/** "kim-long, phu-oc" → ["kim-long", "phu-oc"]; commas or semicolons, blanks dropped. */
export const splitList = (text: string) =>
  text
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter(Boolean)
