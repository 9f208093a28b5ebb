import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_ALERT_PARTITIONS, partitionIndex, partitionLease } from '../../gateway/alerts/partitions.ts'
import { startStandIns, standInConfig, type StandIns } from '../notify/standins.ts'
import { deviceOptions, type Registered } from '../support/cluster-clients.ts'
import {
  CLUSTER_ADMIN,
  haveClusterServices,
  startClusterServices,
  type ClusterNode,
  type ClusterServices,
  type Front,
} from '../support/cluster-nodes.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Alert rules across nodes (docs/operations.md "Alert rules across nodes"): three real gateway
// processes behind HAProxy, one PostgreSQL, one Redis, the SMS provider stand-in. A water-level
// gauge of Kim Long (alarm level I at 1.00 m, config/stations.yaml) reports 1.45 m every second
// through a node that does not own the station's alert partition; while the crossing is being
// evaluated (its minimum duration running in the owner's rule state), the owner is killed with
// SIGKILL. A survivor takes the partition over from the stored state, the readings reaching the
// gauge's node meanwhile are held, not lost: exactly one alert is opened, and each contact of the
// station gets exactly one SMS at the stand-in.

const STATION = 'kim-long'
const SUBJECT = `station:${STATION}`
const RULE = 'water-level'
/** Short enough for a test, long enough that the owner dies while it runs. */
const MIN_DURATION_S = 15
const INTERVAL_MS = 1000
const PHONES = ['0905123456', '0905654321']

describe.skipIf(!haveClusterServices())('a flood level crossing evaluated while its partition owner is killed', () => {
  let c: ClusterServices
  let prov: StandIns
  let nodes: ClusterNode[] = []
  let front: Front
  let db: pg.Client
  let gauge: MqttClient | undefined
  const rulesDir = tempDir('iocgw-rules-')

  beforeAll(async () => {
    prov = await startStandIns()
    const rulesFile = join(rulesDir.path, 'rules.yaml')
    writeFileSync(
      rulesFile,
      [
        'version: 1',
        'rules:',
        `  - id: ${RULE}`,
        '    type: water_alarm',
        '    hysteresis_m: 0.10',
        `    min_duration_s: ${MIN_DURATION_S}`,
        '    severities: [minor, major, critical]',
        '',
      ].join('\n'),
    )
    c = await startClusterServices()
    nodes = await c.spawnNodes(3, {
      config: {
        alerts: { rulesFile },
        notify: { ...standInConfig(prov), rateLimit: { max: 50, windowS: 900 } },
      },
    })
    front = await c.startFront(nodes)
    db = new pg.Client({ connectionString: c.pgUrl })
    await db.connect()
  }, 600_000)

  afterAll(async () => {
    gauge?.end(true)
    await db?.end().catch(() => undefined)
    await c?.stop()
    await prov?.close()
    rulesDir.remove()
  }, 120_000)

  /** Holder of each alert partition whose lease is current. */
  const holders = async (): Promise<Map<string, string>> => {
    const r = await db.query<{ name: string; holder: string }>(
      `SELECT name, holder FROM cluster_leases WHERE name LIKE 'alerts:partition:%' AND holder IS NOT NULL AND expires_at > now()`,
    )
    return new Map(r.rows.map((x) => [x.name, x.holder]))
  }
  const metric = async (node: ClusterNode, re: RegExp): Promise<number> => {
    const res = await fetch(`${node.gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${CLUSTER_ADMIN}` } })
    const m = re.exec(await res.text())
    return m ? Number(m[1]) : 0
  }
  const ruleState = async (): Promise<{ lastTs?: number; pending?: { since: number } } | undefined> =>
    (
      await db.query<{ state: { lastTs?: number; pending?: { since: number } } }>(
        'SELECT state FROM alert_rule_state WHERE rule = $1 AND subject = $2',
        [RULE, SUBJECT],
      )
    ).rows[0]?.state
  const alertRows = async () =>
    (await db.query<{ id: string; state: string }>('SELECT id, state FROM alerts WHERE rule = $1 AND subject = $2', [RULE, SUBJECT])).rows
  const delivered = (phone: string) =>
    prov.delivered('esms').filter((r) => String(r.body.Phone) === phone || String(r.body.Phone).endsWith(phone.slice(1))).length

  it('exactly one alert, and exactly one SMS per contact at the stand-in', async () => {
    const lease = partitionLease(partitionIndex(SUBJECT, DEFAULT_ALERT_PARTITIONS))
    // Every partition owned, spread over the three nodes.
    await waitFor(
      async () => {
        const h = await holders()
        return h.size === DEFAULT_ALERT_PARTITIONS && nodes.every((n) => [...h.values()].includes(n.id))
      },
      60_000,
      200,
    )
    const ownerId = (await holders()).get(lease)!
    const owner = nodes.find((n) => n.id === ownerId)!
    const via = nodes.find((n) => n.id !== ownerId)!

    // The station's contacts: created through one node; on every node too when contacts are per node.
    const first = nodes[0]!
    for (const [i, phone] of PHONES.entries()) {
      const body = { name: `Trực ban Kim Long ${i + 1}`, phone, role: 'officer', stations: [STATION], channels: ['sms'] }
      expect((await c.api(first, 'POST', '/subscriptions', body)).status).toBe(201)
      const seen = (await (await c.api(nodes[1]!, 'GET', '/subscriptions')).json()) as { items: Array<{ phone?: string }> }
      if (!seen.items.some((x) => x.phone === phone))
        for (const n of nodes.slice(1)) expect((await c.api(n, 'POST', '/subscriptions', body)).status).toBe(201)
    }

    const reg = await c.api(first, 'POST', '/devices', { id: 'kl-gauge-01', kind: 'water_level', name: 'Trạm Kim Long', station: STATION })
    expect(reg.status).toBe(201)
    const device: Registered = {
      id: 'kl-gauge-01',
      secret: ((await reg.json()) as { credentials: { password: string } }).credentials.password,
    }
    // The gauge on a node that does not own the station: its readings are forwarded to the owner.
    gauge = mqtt.connect(`mqtt://127.0.0.1:${front.pin[via.id]}`, deviceOptions(device))
    gauge.on('error', () => {})
    await new Promise<void>((resolve) => gauge!.once('connect', () => resolve()))

    let seq = 0
    let publishing = true
    let firstTs = 0
    const loop = (async () => {
      while (publishing) {
        const ts = Date.now()
        firstTs ||= ts
        await gauge!.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, seq: ++seq, values: { water_level: 1.45 } }), {
          qos: 1,
        })
        await new Promise((r) => setTimeout(r, INTERVAL_MS))
      }
    })()

    // The crossing is under way at the owner (its duration stored), and not complete yet.
    await waitFor(
      async () => {
        const st = await ruleState()
        return st?.pending !== undefined && st.lastTs !== undefined && st.lastTs >= st.pending.since + 2000
      },
      60_000,
      100,
    )
    expect(await alertRows()).toHaveLength(0)
    owner.gw.child.kill('SIGKILL')
    const survivors = nodes.filter((n) => n !== owner)

    // A survivor takes the partition over and completes the crossing from the stored state.
    await waitFor(async () => (await alertRows()).length > 0, 120_000, 200)
    await waitFor(
      async () => {
        const holder = (await holders()).get(lease)
        return survivors.some((n) => n.id === holder)
      },
      30_000,
      200,
    )
    // A few more readings above level I: still the same one alert.
    const after = seq
    await waitFor(() => seq >= after + 5, 60_000, 100)
    publishing = false
    await loop

    await waitFor(() => PHONES.every((p) => delivered(p) >= 1), 60_000, 200)
    // Time for a second message to show up, if one were going to.
    await new Promise((r) => setTimeout(r, 5000))
    const rows = await alertRows()
    expect(rows).toHaveLength(1)
    const history = await db.query<{ action: string }>(`SELECT entry->>'action' AS action FROM alert_history WHERE alert_id = $1`, [
      rows[0]!.id,
    ])
    expect(history.rows.filter((h) => h.action === 'opened')).toHaveLength(1)
    for (const p of PHONES) expect(delivered(p), `SMS to ${p}`).toBe(1)

    // Readings reaching the gauge's node while no node owned the partition were held, never dropped.
    expect(await metric(via, /^iocgw_alert_inputs_routed_total\{outcome="forwarded"\} (\d+)$/m)).toBeGreaterThan(0)
    for (const n of survivors) expect(await metric(n, /^iocgw_alert_inputs_routed_total\{outcome="no_holder"\} (\d+)$/m)).toBe(0)
    // The killed node's partitions are all owned again, by the survivors (GET /metrics).
    await waitFor(
      async () => {
        let held = 0
        for (const n of survivors) held += await metric(n, /^iocgw_alert_partitions_held (\d+)$/m)
        return held === DEFAULT_ALERT_PARTITIONS
      },
      30_000,
      500,
    )
  }, 600_000)
})
