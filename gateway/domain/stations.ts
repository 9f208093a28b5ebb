import { readFileSync } from 'node:fs'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { parse as parseYaml } from 'yaml'
import { decimalCommaMessage } from '../util/decimal-comma.ts'
import { schemaProblem } from '../util/schema-error.ts'

// Flood alarm levels per station: Decision 05/2020/QĐ-TTg (three levels "báo động" I, II, III, in
// metres above the station's gauge datum; Art. 4.2 lets the provincial People's Committee set
// levels for stations it lists). Kept in config/stations.yaml so an operator corrects a level
// without a release; a level whose source is single or indirect is listed under `to_confirm`.

const Level = Type.Union([Type.Number(), Type.Null()])
const LevelName = Type.Union([Type.Literal('I'), Type.Literal('II'), Type.Literal('III')])

export const StationSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    river: Type.Optional(Type.String()),
    /** Where the station is, for the console's map and for scoped users; else its devices' say. */
    district: Type.Optional(Type.String({ minLength: 1 })),
    location: Type.Optional(
      Type.Object(
        { lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) },
        { additionalProperties: false },
      ),
    ),
    levels: Type.Optional(Type.Object({ I: Level, II: Level, III: Level }, { additionalProperties: false })),
    /** Levels shipped from a single or indirect source, to be confirmed by an operator. */
    to_confirm: Type.Optional(Type.Array(LevelName)),
    /** Window over which rise_rate (m/h) is computed. */
    rise_window_s: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    /** Rate of rise an alert rule may use by default; no regulation sets one. */
    rise_alert_m_per_h: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
export type Station = Static<typeof StationSchema>

export const StationsFileSchema = Type.Object(
  {
    legal_basis: Type.Optional(Type.String()),
    stations: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }), StationSchema),
  },
  { additionalProperties: false },
)
export type StationsFile = Static<typeof StationsFileSchema>

const checkFile = Compile(StationsFileSchema)

export interface Stations {
  get(id: string | null | undefined): Station | undefined
  /** 0 below level I, else the highest level reached; undefined when the station has no levels. */
  alarmLevel(stationId: string | null | undefined, waterLevelM: number): number | undefined
  riseWindowMs(stationId: string | null | undefined): number
  all(): Record<string, Station>
}

export const DEFAULT_RISE_WINDOW_S = 3600

/** The alarm levels' names ("báo động I, II, III", Decision 05/2020/QĐ-TTg), by level number. */
export const ROMAN = ['', 'I', 'II', 'III'] as const

export function stationsFrom(file: StationsFile): Stations {
  for (const [id, st] of Object.entries(file.stations)) {
    const defined = [st.levels?.I, st.levels?.II, st.levels?.III].filter((l): l is number => typeof l === 'number')
    for (let i = 1; i < defined.length; i++) {
      if (defined[i]! <= defined[i - 1]!)
        throw new Error(`stations.${id}.levels: levels must rise from I to III (got ${defined.join(', ')})`)
    }
  }
  const map = new Map(Object.entries(file.stations))
  return {
    get: (id) => (id ? map.get(id) : undefined),
    alarmLevel(id, level) {
      const st = id ? map.get(id) : undefined
      if (!st?.levels) return undefined
      const { I, II, III } = st.levels
      if (I === null && II === null && III === null) return undefined
      if (III !== null && level >= III) return 3
      if (II !== null && level >= II) return 2
      if (I !== null && level >= I) return 1
      // Below the lowest known level. With I unknown, "below II" is not "below I": say 0 only
      // when I itself is known, else the reading stays without an alarm level.
      return I !== null ? 0 : undefined
    },
    riseWindowMs: (id) => ((id ? map.get(id)?.rise_window_s : undefined) ?? DEFAULT_RISE_WINDOW_S) * 1000,
    all: () => Object.fromEntries(map),
  }
}

/** Reads and checks a stations YAML file; throws one line naming the key and what is wrong. */
export function loadStations(path: string): Stations {
  const text = readFileSync(path, 'utf8')
  // A decimal comma (1,00) makes a string or splits a flow mapping's number in two; either way the
  // plain error would not say so (util/decimal-comma.ts).
  const commaOr = (message: string): string => `${path}: ${decimalCommaMessage(text) ?? message}`
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new Error(commaOr((err as Error).message.split('\n')[0]!), { cause: err })
  }
  if (!checkFile.Check(raw)) {
    const e = schemaProblem(checkFile.Errors(raw), { skip: ['boolean'] })
    throw new Error(commaOr(`${e?.key ?? '(root)'} ${e?.message ?? 'is not valid'}`))
  }
  try {
    return stationsFrom(raw)
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err })
  }
}

export const NO_STATIONS: Stations = stationsFrom({ stations: {} })
