// A user's scope: the districts and stations whose devices, alerts, cameras and readings they see
// and act on. One definition, used by the API (single items) and by the stores (lists in SQL).

export interface Scope {
  districts: readonly string[]
  stations: readonly string[]
}

export interface Place {
  station?: string | null | undefined
  district?: string | null | undefined
}

/** True when `place` belongs to `scope`: its station or its district is listed. No scope: everything. */
export function placeInScope(scope: Scope | null | undefined, place: Place): boolean {
  if (!scope) return true
  return (!!place.station && scope.stations.includes(place.station)) || (!!place.district && scope.districts.includes(place.district))
}

/**
 * The same test as an SQL condition on a table's `station` and `district` columns, with its
 * arguments; undefined when there is no scope. A place with neither listed never matches.
 */
export function scopeSql(scope: Scope | null | undefined): { sql: string; args: string[] } | undefined {
  if (!scope) return undefined
  const parts: string[] = []
  const args: string[] = []
  if (scope.stations.length > 0) {
    parts.push(`station IN (${scope.stations.map(() => '?').join(', ')})`)
    args.push(...scope.stations)
  }
  if (scope.districts.length > 0) {
    parts.push(`district IN (${scope.districts.map(() => '?').join(', ')})`)
    args.push(...scope.districts)
  }
  // FALSE: SQLite reads it as 0, PostgreSQL wants a boolean.
  return { sql: parts.length > 0 ? `(${parts.join(' OR ')})` : 'FALSE', args }
}
