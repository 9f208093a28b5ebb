import Type from 'typebox'
import type { Stations } from '../../domain/stations.ts'
import type { Device, DeviceRegistry, Location } from '../../registry/types.ts'
import { AuthErrors } from '../schemas.ts'
import { canSee } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

// The stations of config/stations.yaml as the console's map and station pages need them
// (docs/api.md, "Stations"): alarm levels of Decision 05/2020/QĐ-TTg with their names, and where
// each station is. A station's district and coordinates come from the file when set there, else
// from the devices registered at the station, so a scoped user sees the stations of their places.

export interface StationRouteDeps {
  registry: DeviceRegistry
  stations: Stations
}

const READ = ['viewer', 'officer', 'technician'] as const
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

/** Decision 05/2020/QĐ-TTg: what each "báo động" level means (as in config/stations.yaml). */
export const LEVEL_NAMES = {
  I: { vi: 'Báo động I: lũ bắt đầu lên, nước còn trong lòng sông', en: 'Alarm I: the river starts to flood, water within the channel' },
  II: {
    vi: 'Báo động II: lũ trung bình, bắt đầu ngập, ảnh hưởng sản xuất và đời sống',
    en: 'Alarm II: medium flood, inundation begins, harm to livelihoods',
  },
  III: {
    vi: 'Báo động III: lũ lớn, ngập lụt nghiêm trọng, nguy hiểm đến tính mạng',
    en: 'Alarm III: high flood, serious inundation, danger to life',
  },
} as const

const LevelSchema = Type.Object(
  {
    level: Type.Union([Type.Literal('I'), Type.Literal('II'), Type.Literal('III')]),
    value: Nullable(Type.Number({ description: 'Metres above the gauge datum; null: not set for this station' })),
    name_vi: Type.String(),
    name_en: Type.String(),
    to_confirm: Type.Boolean({ description: 'Taken from a single or indirect source: to be checked' }),
  },
  { additionalProperties: false },
)

export const StationSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    river: Nullable(Type.String()),
    district: Nullable(Type.String({ description: "From config/stations.yaml, else its devices' district" })),
    location: Nullable(
      Type.Object(
        { lat: Type.Number(), lon: Type.Number() },
        { additionalProperties: false, description: "From config/stations.yaml, else the mean of its devices' locations" },
      ),
    ),
    kind: Type.Literal('water_level'),
    unit: Type.Literal('m'),
    levels: Type.Array(LevelSchema, { description: 'Decision 05/2020/QĐ-TTg levels I, II, III' }),
    devices: Type.Array(Type.String(), { description: 'Ids of the active devices registered at the station' }),
  },
  { additionalProperties: false },
)

const StationsAnswer = Type.Object({ legal_basis: Type.String(), items: Type.Array(StationSchema) }, { additionalProperties: false })

async function allActiveDevices(registry: DeviceRegistry): Promise<Device[]> {
  const out: Device[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await registry.listDevices({ state: 'active' }, { limit: 500, cursor })
    out.push(...page.items)
    if (!page.next) return out
    cursor = page.next
  }
}

const mostCommon = (values: string[]): string | null => {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null
}

const centre = (locs: Location[]): Location | null =>
  locs.length === 0
    ? null
    : { lat: locs.reduce((s, l) => s + l.lat, 0) / locs.length, lon: locs.reduce((s, l) => s + l.lon, 0) / locs.length }

export const stationRoutes: RoutePlugin<StationRouteDeps> = async (app, deps) => {
  app.get(
    '/stations',
    {
      config: { roles: READ },
      schema: {
        tags: ['stations'],
        summary:
          'The flood stations of config/stations.yaml with their alarm levels, district and coordinates (a scoped user: theirs only)',
        response: { 200: StationsAnswer, ...AuthErrors },
      },
    },
    async (request) => {
      const devices = await allActiveDevices(deps.registry)
      const items = Object.entries(deps.stations.all()).map(([id, st]) => {
        const at = devices.filter((d) => d.station === id)
        const toConfirm = new Set(st.to_confirm ?? [])
        return {
          id,
          name: st.name,
          river: st.river ?? null,
          district: st.district ?? mostCommon(at.flatMap((d) => (d.district ? [d.district] : []))),
          location: st.location ?? centre(at.flatMap((d) => (d.location ? [d.location] : []))),
          kind: 'water_level' as const,
          unit: 'm' as const,
          levels: (['I', 'II', 'III'] as const).map((level) => ({
            level,
            value: st.levels?.[level] ?? null,
            name_vi: LEVEL_NAMES[level].vi,
            name_en: LEVEL_NAMES[level].en,
            to_confirm: toConfirm.has(level),
          })),
          devices: at.map((d) => d.id),
        }
      })
      return {
        legal_basis: 'Decision 05/2020/QĐ-TTg',
        items: items.filter((s) => canSee(request.actor, { station: s.id, district: s.district })),
      }
    },
  )
}
