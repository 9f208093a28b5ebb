// Cursors are opaque to clients so that the paging key can change without breaking them.

export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url')
}

/** The key inside a cursor; a cursor that is not one of ours reads as "from the start". */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined
  const key = Buffer.from(cursor, 'base64url').toString('utf8')
  return key.length > 0 && key.length <= 128 ? key : undefined
}

/** One page of rows read with `LIMIT limit + 1`: the extra row only tells that a next page exists. */
export function pageOf<T>(rows: readonly T[], limit: number, key: (item: T) => string | number): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit)
  return { items, next: rows.length > limit ? encodeCursor(String(key(items[items.length - 1]!))) : null }
}
