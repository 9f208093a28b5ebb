import { existsSync } from 'node:fs'
import Database, { type Database as Db } from 'better-sqlite3'

// Reading another gateway's (or this node's former) SQLite file without changing it: the
// first-start copies into PostgreSQL (docs/operations.md "Moving a single gateway to a cluster").

export const hasTable = (db: Db, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined

/**
 * `file` opened read-only when it exists and `holds` says it has something to copy, else
 * undefined; no file is ever made. The caller closes what it gets.
 */
export function openOwnFile(file: string, holds: (db: Db) => boolean): Db | undefined {
  if (!existsSync(file)) return undefined
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    if (holds(db)) return db
  } catch (err) {
    db.close()
    throw err
  }
  db.close()
  return undefined
}
