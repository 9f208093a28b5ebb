import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerting, type Alerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import type { AlertChange } from '../../gateway/alerts/types.ts'
import { tempDir } from '../support/services.ts'
import { clock, gauge, metrics, quietLogger, stations } from './helpers.ts'

// The engine decides escalation (docs/notify.md "Escalation", keys under notify.escalation): an
// open alert left unacknowledged goes up one tier per `afterMs`, as an alert change every
// listener and router sees. No notifier is involved.

const T0 = Date.parse('2026-11-20T03:00:00Z')

describe('escalation in the alert engine', () => {
  let dir: ReturnType<typeof tempDir>
  let alerting: Alerting | undefined
  beforeEach(async () => {
    dir = tempDir()
  })
  afterEach(async () => {
    await alerting?.close()
    dir.remove()
  })

  it('escalates an unacknowledged alert once per tier up to maxTier and emits each change; an acknowledged one stays', async () => {
    const clk = clock(T0)
    const a = createAlerting({
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: metrics(),
      stations: stations(),
      now: clk.now,
      // A long check interval: the test drives the check itself.
      escalation: { afterMs: 600_000, maxTier: 3, checkMs: 3_600_000 },
      rules: parseRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }),
    })
    alerting = a
    const seen: AlertChange[] = []
    a.onChange((c) => seen.push(c))
    await a.handleReading(gauge('kim-long', T0, 2.5))
    await a.handleReading(gauge('phu-oc', T0, 2.0))
    await a.acknowledge((await a.list({ station: 'phu-oc' }, { limit: 1 })).items[0]!.id, 'Trực ban')
    clk.add(599_000)
    await a.checkEscalation()
    expect(seen.filter((c) => c.change.action === 'escalated')).toHaveLength(0)
    clk.add(2_000)
    await a.checkEscalation()
    await a.checkEscalation()
    clk.add(600_000)
    await a.checkEscalation()
    clk.add(3_600_000)
    await a.checkEscalation()
    const escalated = seen.filter((c) => c.change.action === 'escalated')
    expect(escalated.map((c) => [c.alert.station, c.change.tier])).toEqual([
      ['kim-long', 2],
      ['kim-long', 3],
    ])
    const kl = (await a.list({ station: 'kim-long' }, { limit: 1 })).items[0]!
    expect(kl.tier).toBe(3)
    expect(kl.history.filter((h) => h.action === 'escalated').map((h) => h.tier)).toEqual([2, 3])
  })
})
