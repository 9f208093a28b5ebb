// Redis, then PostgreSQL, away for 30 s each under three real gateway nodes behind HAProxy while
// devices publish (docs/operations.md "Several nodes": "Redis unreachable does not stop a node",
// "PostgreSQL down"): every node stays up, /readyz answers 503 naming the component, a PUBACK
// still means stored (every acknowledged reading is in InfluxDB once the service is back), and
// every node is ready again by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectStoredOnce, Publisher, registerDevice, type Registered } from '../support/cluster-clients.ts'
import { haveClusterServices, useClusterFront } from '../support/cluster-nodes.ts'
import { waitFor } from '../support/services.ts'

const PUBLISHERS = 3
const INTERVAL_MS = 300
const OUTAGE_MS = 30_000

describe.skipIf(!haveClusterServices())('Redis and PostgreSQL outages under three nodes', () => {
  const c = useClusterFront(3)
  const devices: Registered[] = []
  const publishers: Publisher[] = []

  beforeAll(async () => {
    const first = c.nodes[0]!
    for (let i = 1; i <= PUBLISHERS; i++) devices.push(await registerDevice((m, p, b) => c.api(first, m, p, b), `out-0${i}`))
    for (const d of devices) {
      const p = new Publisher(d, `mqtt://127.0.0.1:${c.front.mqtt}`, INTERVAL_MS)
      publishers.push(p)
      await p.ready()
    }
    for (const p of publishers) p.start()
    await waitFor(() => publishers.every((p) => p.acked.size >= 5), 120_000, 100)
  }, 600_000)

  afterAll(async () => {
    for (const p of publishers) await p.end()
  }, 120_000)

  /** Waits until every node answers /readyz 503 with `component` not ok; answers the details. */
  const allNotReady = (component: string) =>
    waitFor(
      async () => {
        const details: string[] = []
        for (const n of c.nodes) {
          const r = await c.readyz(n)
          const check = r.body.checks[component]
          if (r.status !== 503 || check?.ok !== false) return undefined
          details.push(check.detail ?? '')
        }
        return details
      },
      60_000,
      250,
    )
  const allReady = () =>
    waitFor(
      async () => {
        for (const n of c.nodes) if ((await c.readyz(n)).status !== 200) return false
        return true
      },
      120_000,
      500,
    )
  const allUp = async () => {
    for (const n of c.nodes) {
      expect(n.gw.child.exitCode, n.id).toBeNull()
      expect((await fetch(`${n.gw.apiUrl}/healthz`)).status, n.id).toBe(200)
    }
  }
  const allStored = () => expectStoredOnce(c.influxd, publishers)
  const ackedNow = () => new Map(publishers.map((p) => [p, p.acked.size]))

  it('Redis away for 30 s: nodes stay up and say redis is not ready, acknowledged readings are kept, all ready again after', async () => {
    await c.redis.kill()
    const since = Date.now()
    const details = await allNotReady('redis')
    for (const d of details) expect(d).toMatch(/Redis unreachable/)
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - since))))
    await allUp()
    const before = ackedNow()
    await c.redis.start()
    await allReady()
    await allUp()
    // The devices, still connected through HAProxy, are acknowledged again.
    await waitFor(() => publishers.every((p) => p.acked.size >= before.get(p)! + 5), 120_000, 200)
    await allStored()
  }, 300_000)

  it('PostgreSQL away for 30 s: nodes stay up and say postgres is not ready, connected devices keep publishing, all ready again after', async () => {
    await c.pg.kill()
    const since = Date.now()
    const details = await allNotReady('postgres')
    for (const d of details) expect(d).toMatch(/PostgreSQL unreachable/)
    const during = ackedNow()
    // "Connected devices keep publishing" (docs/operations.md "Registry in PostgreSQL").
    await waitFor(() => publishers.every((p) => p.acked.size >= during.get(p)! + 5), 60_000, 200)
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - since))))
    await allUp()
    await c.pg.start()
    await allReady()
    await allUp()
    const after = ackedNow()
    await waitFor(() => publishers.every((p) => p.acked.size >= after.get(p)! + 5), 120_000, 200)
    for (const p of publishers) await p.stop()
    await allStored()
  }, 300_000)
})
