import { createAlerting, type Alerting, type AlertingOptions } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { GatewayBus, type Reading } from '../../gateway/bus/events.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger, type Logger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import type { NewContact } from '../../gateway/notify/contacts.ts'
import { createNotifier, type Notifier } from '../../gateway/notify/notifier.ts'
import { standInConfig, type StandIns } from '../notify/standins.ts'

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

/** The Kim Long duty officer (docs/notify.md contacts): every channel, Kim Long only. */
export const KIM_LONG_OFFICER: NewContact = {
  name: 'Trực ban Kim Long',
  phone: '0905123456',
  zalo_user_id: 'zu-1001',
  role: 'officer',
  stations: ['kim-long'],
  channels: ['sms', 'zalo_zns', 'zalo_oa'],
}

/** The water-level rule (config/rules.yaml) with hysteresis 0.1 m, held `minDurationS` before it raises. */
export const WATER_LEVEL_RULE = (minDurationS: number) => ({
  id: 'water-level',
  type: 'water_alarm' as const,
  hysteresis_m: 0.1,
  min_duration_s: minDurationS,
})

/** Notify config for the provider stand-ins, with room for every message a flood test sends (50 per 15 min). */
export const standInNotify = (prov: StandIns) => ({ ...standInConfig(prov), rateLimit: { max: 50, windowS: 900 } })

/**
 * A notifier over the stand-ins and the alert engine with the water-level rule routed to it, as
 * the gateway wires them (gateway/app.ts); `more` adds engine options (clock, publish, annotate).
 */
export function floodAlerting(
  base: { dataDir: string; bus: GatewayBus; prov: StandIns; minDurationS: number; logger?: Logger; metrics?: Metrics },
  more: Partial<AlertingOptions> = {},
): { alerting: Alerting; notifier: Notifier } {
  const st = stations()
  const logger = base.logger ?? quietLogger()
  const notifier = createNotifier({
    dataDir: base.dataDir,
    logger,
    metrics: base.metrics ?? metrics(),
    config: standInNotify(base.prov),
    stations: st,
  })
  const alerting = createAlerting({
    bus: base.bus,
    dataDir: base.dataDir,
    logger,
    metrics: base.metrics ?? metrics(),
    stations: st,
    rules: parseRules({ version: 1, rules: [WATER_LEVEL_RULE(base.minDurationS)] }),
    ...more,
  })
  alerting.setRouter(notifier)
  return { alerting, notifier }
}
