import type Database from 'better-sqlite3'
import type { Audit, Sql } from './audit.ts'
import type { SecretHasher } from './secrets.ts'

/** What the parts of the SQLite registry share (sqlite.ts): one database, one statement cache, one key for secrets, one audit log. */
export interface SqliteShared {
  db: Database.Database
  sql: Sql
  hasher: SecretHasher
  record: Audit
}

/** A part of the SQLite registry (devices, tokens, camera configurations, users). */
export abstract class SqlitePart {
  protected readonly db: Database.Database
  protected readonly sql: Sql
  protected readonly hasher: SecretHasher
  /** Writes an audit entry inside the caller's transaction. */
  protected readonly record: Audit

  constructor(shared: SqliteShared) {
    this.db = shared.db
    this.sql = shared.sql
    this.hasher = shared.hasher
    this.record = shared.record
  }
}
