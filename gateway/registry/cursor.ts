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
