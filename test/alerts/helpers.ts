import { GatewayBus, type Reading } from '../../gateway/bus/events.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'

export const stations = () => loadStations('config/stations.yaml')
export const quietLogger = () => createLogger('silent')
export const metrics = () => new Metrics({ defaults: false })
export { GatewayBus }

export function gauge(station: string, ts: number, level: number, extra: Partial<Reading> = {}): Reading {
  return {
    device: `${station}-01`,
    kind: 'water_level',
    station,
    district: 'hue',
    ts,
    seq: null,
    values: { water_level: level },
    late: false,
    ...extra,
  }
}

/** A controllable clock for event-time tests. */
export function clock(start: number) {
  let t = start
  return {
    now: () => t,
    set: (v: number) => {
      t = v
    },
    add: (ms: number) => {
      t += ms
    },
  }
}
