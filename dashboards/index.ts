import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { airQualityBoard } from './boards/air-quality.ts'
import { deviceHealthBoard } from './boards/device-health.ts'
import { floodBoard } from './boards/flood.ts'
import { operationsBoard } from './boards/operations.ts'
import { trafficBoard } from './boards/traffic.ts'
import { finalize } from './lib/common.ts'
import { readStations } from './lib/stations.ts'

export interface BuiltBoard {
  /** File name under the output directory, stable across builds. */
  file: string
  uid: string
  title: string
  json: dashboard.Dashboard
}

export interface BuildOptions {
  /** Station levels file (config/stations.yaml); absent means the built-in domain levels. */
  stationsFile?: string
}

/** Every board, built in memory in a fixed order. */
export function buildBoards(opts: BuildOptions = {}): { boards: BuiltBoard[]; stationsSource: string } {
  const { stations, source } = readStations(opts.stationsFile)
  const builders: Array<[string, dashboard.DashboardBuilder]> = [
    ['operations.json', operationsBoard(stations)],
    ['flood.json', floodBoard(stations)],
    ['traffic.json', trafficBoard()],
    ['air-quality.json', airQualityBoard()],
    ['device-health.json', deviceHealthBoard()],
  ]
  const boards = builders.map(([file, b]) => {
    const json = finalize(b.build())
    return { file, uid: json.uid ?? '', title: json.title ?? '', json }
  })
  return { boards, stationsSource: source }
}

/** The exact bytes written for a board, so a committed file can be compared with a fresh build. */
export function serialize(board: dashboard.Dashboard): string {
  return `${JSON.stringify(board, null, 2)}\n`
}
