import type Database from 'better-sqlite3'
import { decodeCursor, pageOf } from './cursor.ts'
import type { Actor, AuditEntry, Page } from './types.ts'

/** A prepared statement of the registry's cache (SqliteRegistry prepares each text once). */
export type Sql = (text: string) => Database.Statement

/** Writes an audit entry; every change of the registry calls it inside the change's transaction. */
export type Audit = (actor: Actor, action: string, target: string, detail: Record<string, unknown> | null) => void

/** The audit log: who changed what, newest first when listed. */
export class SqliteAudit {
  constructor(private readonly sql: Sql) {}

  record(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): void {
    this.sql('INSERT INTO audit_log (ts, actor_type, actor_id, actor_name, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      new Date().toISOString(),
      actor.type,
      actor.id,
      actor.name ?? null,
      action,
      target,
      detail === null ? null : JSON.stringify(detail),
    )
  }

  listAudit(page: { limit: number; cursor?: string | undefined }): Page<AuditEntry> {
    const before = decodeCursor(page.cursor)
    const rows = this.sql(`SELECT * FROM audit_log ${before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`).all(
      ...(before !== undefined ? [Number(before)] : []),
      page.limit + 1,
    ) as Array<AuditEntry & { detail: string | null }>
    return pageOf(
      rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>) })),
      page.limit,
      (e) => e.id,
    )
  }
}
