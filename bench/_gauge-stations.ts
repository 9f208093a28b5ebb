// The benches' water-level gauges as a province has them: each at a station of its own, as
// config/stations.yaml places one gauge per station, every station with Kim Long's alarm levels
// (Decision 05/2020/QĐ-TTg) so that each gauge's readings cross them as before. Registered all at
// one station, hundreds of gauges made the flood rule see a single water level jumping between
// their readings, a stream no station sends, and in cluster mode put every alert input in one
// partition, evaluated by one node.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'

/** The station a bench gauge is registered at. */
export const gaugeStation = (deviceId: string): string => `st-${deviceId}`

/** Kim Long's levels (config/stations.yaml), which the publishers' 1-4 m readings cross. */
const LEVELS = { I: 1.0, II: 2.0, III: 3.5 }

/**
 * Writes a stations file to `file`: config/stations.yaml's stations and one per device id of
 * `deviceIds` (gaugeStation). Answers `file`.
 */
export function writeGaugeStations(root: string, file: string, deviceIds: string[]): string {
  const shipped = parse(readFileSync(join(root, 'config/stations.yaml'), 'utf8')) as { stations: Record<string, unknown> }
  const stations: Record<string, unknown> = { ...shipped.stations }
  // A new levels object for each: the YAML writer would make a shared one an alias, and the
  // gateway refuses a file with hundreds of aliases.
  for (const id of deviceIds)
    stations[gaugeStation(id)] = { name: `Trạm ${id}`, levels: { ...LEVELS }, rise_window_s: 3600, rise_alert_m_per_h: 0.3 }
  writeFileSync(file, stringify({ ...shipped, stations }))
  return file
}
