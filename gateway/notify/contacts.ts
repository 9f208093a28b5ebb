import { randomBytes } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import type { Severity } from '../alerts/types.ts'
import type { Contact, ContactChannel } from './types.ts'

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
}

interface Row {
  id: string; name: string; phone: string | null; zalo_user_id: string | null; role: string; tier: number
  kinds: string | null; stations: string | null; districts: string | null; min_severity: string; channels: string; created_at: string
}

const list = (s: string | null) => (s ? (JSON.parse(s) as string[]) : undefined)

function toContact(r: Row): Contact {
  return {
    id: r.id, name: r.name, phone: r.phone ?? undefined, zalo_user_id: r.zalo_user_id ?? undefined, role: r.role, tier: r.tier,
    kinds: list(r.kinds), stations: list(r.stations), districts: list(r.districts), min_severity: r.min_severity as Severity,
    channels: JSON.parse(r.channels) as ContactChannel[], created_at: r.created_at,
  }
}

/** Contacts and what they subscribe to, in alerts.db (routing reads them inside the alert transaction). */
export interface ContactStore {
  create(c: NewContact): Contact
  get(id: string): Contact | undefined
  list(page: { limit: number; cursor?: string | undefined }): { items: Contact[]; next: string | null }
  remove(id: string): boolean
  all(): Contact[]
}

export function sqliteContacts(db: Database): ContactStore {
  const ins = db.prepare(`INSERT INTO contacts (id, name, phone, zalo_user_id, role, tier, kinds, stations, districts, min_severity, channels, created_at)
    VALUES (@id, @name, @phone, @zalo_user_id, @role, @tier, @kinds, @stations, @districts, @min_severity, @channels, @created_at)`)
  const get = db.prepare('SELECT * FROM contacts WHERE id = ?')
  const page = db.prepare('SELECT * FROM contacts WHERE id > ? ORDER BY id LIMIT ?')
  const del = db.prepare('DELETE FROM contacts WHERE id = ?')
  const all = db.prepare('SELECT * FROM contacts ORDER BY tier, id')
  // Routing runs on every alert change; contacts change rarely, so keep them in memory.
  let cache: Contact[] | undefined
  const js = (v: string[] | undefined) => (v && v.length > 0 ? JSON.stringify(v) : null)
  return {
    create(c) {
      const row = {
        id: `c${randomBytes(6).toString('hex')}`, name: c.name, phone: c.phone ?? null, zalo_user_id: c.zalo_user_id ?? null, role: c.role,
        tier: c.tier ?? 1, kinds: js(c.kinds), stations: js(c.stations), districts: js(c.districts), min_severity: c.min_severity ?? 'minor',
        channels: JSON.stringify([...new Set(c.channels)]), created_at: new Date().toISOString(),
      }
      ins.run(row)
      cache = undefined
      return toContact(row as Row)
    },
    get(id) {
      const r = get.get(id) as Row | undefined
      return r ? toContact(r) : undefined
    },
    list(p) {
      const rows = page.all(p.cursor ?? '', p.limit + 1) as Row[]
      const items = rows.slice(0, p.limit).map(toContact)
      return { items, next: rows.length > p.limit ? (items[items.length - 1]?.id ?? null) : null }
    },
    remove(id) {
      cache = undefined
      return del.run(id).changes > 0
    },
    all() {
      cache ??= (all.all() as Row[]).map(toContact)
      return cache
    },
  }
}
