import { join } from 'node:path'
import Database from 'better-sqlite3'

// One gateway process per data directory: the disk spool for InfluxDB, the notification outbox and
// the SQLite time series are each written by one process that assumes it is alone. The lock is an
// exclusive transaction held open on `<dataDir>/gateway.lock` through SQLite, i.e. an OS file lock:
// it is released when the process exits, also on kill -9, so a crash never leaves a stale lock
// (which a pid file would).

export interface DataDirLock {
  release(): void
}

export function lockDataDir(dir: string): DataDirLock {
  const db = new Database(join(dir, 'gateway.lock'))
  try {
    db.pragma('busy_timeout = 0')
    db.exec('BEGIN EXCLUSIVE')
  } catch (err) {
    db.close()
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new Error(
        `data directory ${dir} is in use by another gateway process; give each gateway its own (server.dataDir, IOC_DATA_DIR)`,
        { cause: err },
      )
    throw err
  }
  return {
    release: () => {
      if (!db.open) return
      db.exec('ROLLBACK')
      db.close()
    },
  }
}
