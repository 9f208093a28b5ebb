import { afterEach, beforeEach } from 'vitest'
import { createAlerting, type Alerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { createNotifier, escalationOptions, type Notifier } from '../../gateway/notify/notifier.ts'
import { tempDir } from '../support/services.ts'
import { metrics, quietLogger, stations } from '../alerts/helpers.ts'
import { startStandIns, standInConfig, type StandIns } from './standins.ts'

// A real notifier and alerting engine on one alerts.db, the alerts routed to the notifier and the
// notifier to the local provider stand-ins (standins.ts): fresh for each test of the calling suite.

/** Water-level alarms at once. */
export const WATER_RULE = { id: 'wl', type: 'water_alarm', min_duration_s: 0 }
/** WATER_RULE, and rain over 1 mm in an hour. */
export const WATER_AND_RAIN_RULES: unknown[] = [WATER_RULE, { id: 'rain', type: 'rainfall', window_s: 3600, thresholds_mm: [1] }]

export interface NotifyStart {
  /** notify settings over the stand-ins' (standInConfig). */
  config?: Record<string, unknown>
  /** The clock of both engines (Date.now when absent). */
  now?: (() => number) | undefined
  /** WATER_AND_RAIN_RULES when absent. */
  rules?: unknown[]
  /** Escalation of unacknowledged alerts as the notifier's config says (notify.escalation); off unless true. */
  escalate?: boolean
}

export interface NotifyEngines {
  notifier: Notifier
  alerting: Alerting
  prov: StandIns
}

export interface NotifySuite {
  /** This test's stand-ins (started before it). */
  readonly prov: StandIns
  /** Starts this test's notifier (polling every 20 ms) and alerting engine; both are closed after the test. */
  start(opts?: NotifyStart): NotifyEngines
}

export function useNotifyEngines(): NotifySuite {
  let prov: StandIns | undefined
  let dir: ReturnType<typeof tempDir> | undefined
  let alerting: Alerting | undefined
  let notifier: Notifier | undefined
  const current = () => {
    if (!prov || !dir) throw new Error('useNotifyEngines: the stand-ins and data directory are made before each test; use them inside it')
    return { prov, dataDir: dir.path }
  }
  beforeEach(async () => {
    prov = await startStandIns()
    dir = tempDir()
  })
  afterEach(async () => {
    await alerting?.close()
    await notifier?.close()
    alerting = undefined
    notifier = undefined
    await prov?.close()
    dir?.remove()
  })
  return {
    get prov() {
      return current().prov
    },
    start({ config = {}, now, rules = WATER_AND_RAIN_RULES, escalate = false } = {}) {
      const { prov: p, dataDir } = current()
      const n = createNotifier({
        dataDir,
        logger: quietLogger(),
        metrics: metrics(),
        config: { ...standInConfig(p), ...config },
        stations: stations(),
        now,
        pollMs: 20,
      })
      notifier = n
      const a = createAlerting({
        dataDir,
        logger: quietLogger(),
        metrics: metrics(),
        stations: stations(),
        now,
        ...(escalate ? { escalation: escalationOptions(n.config) } : {}),
        rules: parseRules({ version: 1, rules }),
      })
      alerting = a
      a.setRouter(n)
      return { notifier: n, alerting: a, prov: p }
    },
  }
}
