import { randomBytes } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import type { Severity } from '../alerts/types.ts'
import { readNotifyDb } from './db.ts'
import type { Contact, ContactChannel, QuietHours } from './types.ts'

export interface NewContact {
  name: string
  phone?: string | undefined
  zalo_user_id?: string | undefined
  role: string
  tier?: number | undefined
  kinds?: string[] | undefined
  stations?: string[] | undefined
  districts?: string[] | undefined
  min_severity?: Severity | undefined
  channels: ContactChannel[]
  /** `bypass` defaults to critical: a level III flood always wakes people. */
  quiet_hours?: (Omit<QuietHours, 'bypass'> & { bypass?: Severity | undefined }) | null | undefined
}

/** The fields of a PATCH: any of NewContact's; null clears an optional one. */
export type ContactPatch = { [K in keyof NewContact]?: NewContact[K] | null }

/** A contact as stored: lists and quiet hours as JSON text (alerts.db's contacts, PostgreSQL's notify_contacts). */
export interface ContactRow {
  id: string
  name: string
  phone: string | null
  zalo_user_id: string | null
  role: string
  tier: number
  kinds: string | null
  stations: string | null
  districts: string | null
  min_severity: string
  channels: string
  quiet_hours: string | null
  created_at: string
}

const list = (s: string | null) => (s ? (JSON.parse(s) as string[]) : undefined)

export function toContact(r: ContactRow): Contact {
  return {
    id: r.id,
    name: r.name,
    phone: r.phone ?? undefined,
    zalo_user_id: r.zalo_user_id ?? undefined,
    role: r.role,
    tier: r.tier,
    kinds: list(r.kinds),
    stations: list(r.stations),
    districts: list(r.districts),
    min_severity: r.min_severity as Severity,
    channels: JSON.parse(r.channels) as ContactChannel[],
    ...(r.quiet_hours ? { quiet_hours: JSON.parse(r.quiet_hours) as QuietHours } : {}),
    created_at: r.created_at,
  }
}

/**
 * Contacts and what they subscribe to: alerts.db on one node, PostgreSQL in a cluster
 * (postgres/contacts.ts). Reads come from memory (routing reads them inside every alert
 * transaction; contacts change rarely); writes go to the store and refresh it.
 */
export interface ContactStore {
  create(c: NewContact): Promise<Contact>
  get(id: string): Contact | undefined
  /** By id; `visible` leaves out contacts the caller may not see (a scoped user, docs/api.md). */
  list(page: { limit: number; cursor?: string | undefined }, visible?: (c: Contact) => boolean): { items: Contact[]; next: string | null }
  /** The contact after the change; undefined when it does not exist. */
  update(id: string, patch: ContactPatch): Promise<Contact | undefined>
  remove(id: string): Promise<boolean>
  all(): Contact[]
}

const js = (v: string[] | null | undefined) => (v && v.length > 0 ? JSON.stringify(v) : null)
const quiet = (q: NewContact['quiet_hours']) => (q ? JSON.stringify({ from: q.from, to: q.to, bypass: q.bypass ?? 'critical' }) : null)

/** The stored row of a new contact, or of a changed one (`id` and `created_at` kept). */
export function contactRow(id: string, c: NewContact, created_at: string): ContactRow {
  return {
    id,
    name: c.name,
    phone: c.phone ?? null,
    zalo_user_id: c.zalo_user_id ?? null,
    role: c.role,
    tier: c.tier ?? 1,
    kinds: js(c.kinds),
    stations: js(c.stations),
    districts: js(c.districts),
    min_severity: c.min_severity ?? 'minor',
    channels: JSON.stringify([...new Set(c.channels)]),
    quiet_hours: quiet(c.quiet_hours),
    created_at,
  }
}

export const newContactId = () => `c${randomBytes(6).toString('hex')}`

/** `was` with `patch` applied: a field given replaces it, null clears it. */
export function patched(was: Contact, patch: ContactPatch): NewContact {
  const merged: NewContact = { ...was, quiet_hours: was.quiet_hours }
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v ?? undefined
  return merged
}

/** A page of `all` by id, after the cursor (in memory: contacts are few, and the scope test needs the station table). */
export function contactPage(
  all: readonly Contact[],
  p: { limit: number; cursor?: string | undefined },
  visible?: (c: Contact) => boolean,
): { items: Contact[]; next: string | null } {
  const after = all.filter((c) => c.id > (p.cursor ?? '') && (!visible || visible(c))).sort((a, b) => (a.id < b.id ? -1 : 1))
  const items = after.slice(0, p.limit)
  return { items, next: after.length > p.limit ? (items[items.length - 1]?.id ?? null) : null }
}

/** This node's own contacts in alerts.db: what the first start of a cluster copies into PostgreSQL. */
export function alertsDbContacts(dataDir: string): Contact[] {
  return readNotifyDb(dataDir, (db) => sqliteContacts(db).all())
}

export function sqliteContacts(db: Database): ContactStore {
  const ins =
    db.prepare(`INSERT INTO contacts (id, name, phone, zalo_user_id, role, tier, kinds, stations, districts, min_severity, channels, quiet_hours, created_at)
    VALUES (@id, @name, @phone, @zalo_user_id, @role, @tier, @kinds, @stations, @districts, @min_severity, @channels, @quiet_hours, @created_at)`)
  const upd =
    db.prepare(`UPDATE contacts SET name = @name, phone = @phone, zalo_user_id = @zalo_user_id, role = @role, tier = @tier, kinds = @kinds,
    stations = @stations, districts = @districts, min_severity = @min_severity, channels = @channels, quiet_hours = @quiet_hours WHERE id = @id`)
  const del = db.prepare('DELETE FROM contacts WHERE id = ?')
  const all = db.prepare('SELECT * FROM contacts ORDER BY tier, id')
  let cache: Contact[] | undefined
  const allContacts = () => (cache ??= (all.all() as ContactRow[]).map(toContact))
  return {
    async create(c) {
      const row = contactRow(newContactId(), c, new Date().toISOString())
      ins.run(row)
      cache = undefined
      return toContact(row)
    },
    async update(id, patch) {
      const was = allContacts().find((c) => c.id === id)
      if (!was) return undefined
      const row = contactRow(id, patched(was, patch), was.created_at)
      upd.run(row)
      cache = undefined
      return toContact(row)
    },
    get: (id) => allContacts().find((c) => c.id === id),
    list: (p, visible) => contactPage(allContacts(), p, visible),
    async remove(id) {
      cache = undefined
      return del.run(id).changes > 0
    },
    all: allContacts,
  }
}
