import { decodeCursor, pageOf } from '../cursor.ts'
import type { Actor, AuditEntry, Page } from '../types.ts'
import type { Db } from './db.ts'

/** An audit entry as PostgreSQL returns it: a BIGSERIAL id comes back as a string. */
type AuditRow = Omit<AuditEntry, 'id'> & { id: string }

/** The audit log in PostgreSQL: who changed what, newest first when listed. */
export async function recordAudit(
  db: Db,
  actor: Actor,
  action: string,
  target: string,
  detail: Record<string, unknown> | null,
): Promise<void> {
  await db.query(
    'INSERT INTO audit_log (ts, actor_type, actor_id, actor_name, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [new Date().toISOString(), actor.type, actor.id, actor.name ?? null, action, target, detail === null ? null : JSON.stringify(detail)],
  )
}

export async function listAudit(db: Db, page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>> {
  const before = decodeCursor(page.cursor)
  const beforeId = before !== undefined && /^\d+$/.test(before) ? before : undefined
  const { rows } = await db.query<AuditRow>(
    `SELECT * FROM audit_log ${beforeId !== undefined ? 'WHERE id < $2' : ''} ORDER BY id DESC LIMIT $1`,
    beforeId !== undefined ? [page.limit + 1, beforeId] : [page.limit + 1],
  )
  return pageOf(
    rows.map((r) => ({ ...r, id: Number(r.id) })),
    page.limit,
    (e) => e.id,
  )
}
