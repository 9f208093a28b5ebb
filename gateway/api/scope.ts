import { placeInScope, type Place, type Scope } from '../registry/scope.ts'
import type { Stations } from '../domain/stations.ts'
import type { Device, DeviceRegistry } from '../registry/types.ts'
import { httpError } from './errors.ts'
import type { ApiActor } from './types.ts'

// Where a scoped user's limits are applied to requests. Lists pass `scopeOf(actor)` to their store
// (filtered in SQL, so pages stay full); single items go through `visible...`, which answers the
// same 404 for "does not exist" and "not yours", so nothing of another district leaks.

/** The caller's scope; null for tokens and unscoped users. */
export function scopeOf(actor: ApiActor | null): Scope | null {
  return actor?.scope ?? null
}

export function canSee(actor: ApiActor | null, place: Place): boolean {
  return placeInScope(scopeOf(actor), place)
}

export function notFound(message: string): Error {
  return httpError(404, message)
}

/** The device when it exists and the caller may see it; otherwise a 404 saying it does not exist. */
export async function visibleDevice(registry: Pick<DeviceRegistry, 'getDevice'>, actor: ApiActor | null, id: string): Promise<Device> {
  const device = await registry.getDevice(id)
  if (!device || !canSee(actor, device)) throw notFound(`device "${id}" does not exist`)
  return device
}

/** A scope in words for a 403: `districts A, B or stations s1`. */
export function scopeText(scope: Scope): string {
  return [
    ...(scope.districts.length ? [`districts ${scope.districts.join(', ')}`] : []),
    ...(scope.stations.length ? [`stations ${scope.stations.join(', ')}`] : []),
  ].join(' or ')
}

/** 403 when a scoped caller would place a device outside their districts and stations. */
export function requirePlaceInScope(actor: ApiActor | null, place: Place): void {
  const scope = scopeOf(actor)
  if (placeInScope(scope, place)) return
  throw httpError(403, `user "${actor!.name}" may only place devices in ${scopeText(scope!)}: set station or district accordingly`)
}

/**
 * A contact is of a scoped caller's places when every alert it can hear of is: all its stations
 * are theirs (listed, or in one of their districts by the station table), or all its districts
 * are. A contact with neither hears of every place, so only unscoped callers see it (docs/api.md).
 */
export function contactInScope(
  scope: Scope | null,
  c: { stations?: readonly string[] | undefined; districts?: readonly string[] | undefined },
  stations: Pick<Stations, 'get'> | undefined,
): boolean {
  if (!scope) return true
  const st = c.stations ?? []
  const di = c.districts ?? []
  const stationOk = (s: string) => scope.stations.includes(s) || scope.districts.includes(stations?.get(s)?.district ?? '\u0000')
  return (st.length > 0 && st.every(stationOk)) || (di.length > 0 && di.every((d) => scope.districts.includes(d)))
}
