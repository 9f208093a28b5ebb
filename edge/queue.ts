import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

// The agent's store-and-forward queue: every reading is committed here before anything is sent,
// and removed only after the broker's PUBACK (MQTT 3.1.1 §4.3.2: QoS 1 delivery is complete for
// the sender on PUBACK). SQLite in WAL mode with synchronous=FULL: a committed row survives
// kill -9 and power loss; a crash mid-write leaves the previous state.

export interface QueuedReading {
  id: number
  seq: number
  ts: number
  values: Record<string, number>
}

export interface QueueLimits {
  /** Most readings kept; beyond it the oldest are dropped (counted). */
  maxReadings: number
  /** Readings older than this are dropped (counted): the gateway would refuse them anyway. */
  maxAgeMs: number
}

export interface QueueStats {
  depth: number
  dropped: number
  nextSeq: number
}

export class ReadingQueue {
  private readonly db: Database.Database
  private readonly stmts
  private dropped: number
  private nextSeq: number

  constructor(
    path: string,
    private readonly limits: QueueLimits,
  ) {
    mkdirSync(dirname(path), { recursive: true })
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `)
    const get = this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?')
    this.dropped = Number(get.get('dropped')?.value ?? 0)
    this.nextSeq = Number(get.get('next_seq')?.value ?? 0)
    this.stmts = {
      insert: this.db.prepare<[number, number, string]>('INSERT INTO readings (seq, ts, body) VALUES (?, ?, ?)'),
      setMeta: this.db.prepare<[string, string]>(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      getMeta: get,
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM readings'),
      head: this.db.prepare<[number], { id: number; seq: number; ts: number; body: string }>(
        'SELECT id, seq, ts, body FROM readings ORDER BY id LIMIT ?',
      ),
      deleteUpTo: this.db.prepare<[number]>('DELETE FROM readings WHERE id <= ?'),
      deleteIds: this.db.prepare<[string]>('DELETE FROM readings WHERE id IN (SELECT value FROM json_each(?))'),
      dropOldest: this.db.prepare<[number]>('DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)'),
      dropOlderThan: this.db.prepare<[number]>('DELETE FROM readings WHERE ts < ?'),
    }
  }

  /** Commits a reading with the next `seq` (persisted with it) and enforces the bounds. */
  push(ts: number, values: Record<string, number>): QueuedReading {
    return this.db.transaction(() => {
      const seq = this.nextSeq++
      const info = this.stmts.insert.run(seq, ts, JSON.stringify(values))
      this.stmts.setMeta.run('next_seq', String(this.nextSeq))
      this.enforce(ts)
      return { id: Number(info.lastInsertRowid), seq, ts, values }
    })()
  }

  private enforce(now: number): void {
    let dropped = this.stmts.dropOlderThan.run(now - this.limits.maxAgeMs).changes
    const over = this.stmts.count.get()!.n - this.limits.maxReadings
    if (over > 0) dropped += this.stmts.dropOldest.run(over).changes
    if (dropped > 0) {
      this.dropped += dropped
      this.stmts.setMeta.run('dropped', String(this.dropped))
    }
  }

  /** The oldest `limit` readings, in the order they were taken. */
  peek(limit: number): QueuedReading[] {
    return this.stmts.head.all(limit).map((r) => ({ id: r.id, seq: r.seq, ts: r.ts, values: JSON.parse(r.body) as Record<string, number> }))
  }

  /** Removes acknowledged readings. */
  ack(ids: readonly number[]): void {
    if (ids.length === 0) return
    this.stmts.deleteIds.run(JSON.stringify(ids))
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value)
  }

  stats(): QueueStats {
    return { depth: this.stmts.count.get()!.n, dropped: this.dropped, nextSeq: this.nextSeq }
  }

  close(): void {
    this.db.close()
  }
}
