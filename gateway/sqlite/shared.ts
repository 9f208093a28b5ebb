import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database, { type Database as Db } from 'better-sqlite3'
import { migrate, type Migration } from './migrate.ts'

// One connection per SQLite file per process, shared by the capabilities whose writes must commit
// together (a transaction cannot span connections): alerts.db holds the alerts, the notification
// outbox and the webhook deliveries. Each capability applies its own migration list to it.

const open = new Map<string, { db: Db; refs: number }>()

export interface SharedDb {
  db: Db
  release(): void
}

/** Opens (or shares within this process) <dataDir>/<name>, then applies `migrations` tracked in `table`. Call release() when done. */
export function openSharedDb(dataDir: string, name: string, migrations: readonly Migration[], table: string): SharedDb {
  mkdirSync(dataDir, { recursive: true })
  const file = resolve(join(dataDir, name))
  let entry = open.get(file)
  if (!entry) {
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once, and a power
    // cut once the WAL is checkpointed; FULL would fsync every alert change and every outbox
    // state change, which under a busy disk costs the sender hundreds of milliseconds. An alert
    // change and its outbox rows are one transaction either way, so they are kept or lost together.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    entry = { db, refs: 0 }
    open.set(file, entry)
  }
  try {
    migrate(entry.db, migrations, table)
  } catch (err) {
    if (entry.refs === 0) {
      open.delete(file)
      entry.db.close()
    }
    throw err
  }
  entry.refs++
  const e = entry
  let released = false
  return {
    db: e.db,
    release() {
      if (released) return
      released = true
      e.refs--
      if (e.refs === 0) {
        open.delete(file)
        e.db.close()
      }
    },
  }
}

/** What `read` takes from an opened shared file, released at once (what a first cluster start copies into PostgreSQL). */
export function readShared<T>(shared: SharedDb, read: (db: Db) => T): T {
  try {
    return read(shared.db)
  } finally {
    shared.release()
  }
}
