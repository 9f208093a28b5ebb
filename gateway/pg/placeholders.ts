/**
 * `?` placeholders as PostgreSQL's `$n`, numbered after `offset`: the SQL fragments both stores
 * share (registry/scope.ts, notify's outbox page) are written once, with SQLite's `?`.
 */
export function numbered(sql: string, offset = 0): string {
  let n = offset
  return sql.replace(/\?/g, () => `$${++n}`)
}
