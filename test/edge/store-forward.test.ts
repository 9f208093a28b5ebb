import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from '../ingest/stack.ts'
import { exited, queueState, spawnAgent, writeEdgeConfig } from './support.ts'

// (c) of the telemetry issue: the broker gone while the agent keeps reading, the agent killed
// with -9 while offline, restarted, the broker back: every reading replayed and stored once.

describe('edge store-and-forward end to end', () => {
  const dir = tempDir()
  const agents: Array<ReturnType<typeof spawnAgent>> = []
  let stack: Stack | undefined
  afterAll(async () => {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL')
    await stack?.close()
    dir.remove()
  })

  it('replays every reading after a broker outage and a kill -9 of the offline agent, each stored exactly once', async () => {
    const mqttPort = await freePort()
    const dataDir = join(dir.path, 'gateway')
    stack = await startStack({ dataDir, mqttPort })
    const { secret } = await stack.registry.createDevice(
      { id: 'phu-oc-01', kind: 'water_level', name: 'Phú Ốc', station: 'phu-oc' },
      { type: 'system', id: 'test' },
    )
    const queuePath = join(dir.path, 'agent', 'queue.db')
    const config = writeEdgeConfig(dir.path, {
      device: { id: 'phu-oc-01', password_env: 'TEST_DEVICE_SECRET' },
      mqtt: { url: `mqtt://127.0.0.1:${mqttPort}`, reconnect_ms: 200, ack_timeout_ms: 2000 },
      interval_s: 0.05,
      status_interval_s: 1,
      queue: { path: queuePath, batch_size: 50 },
      driver: { type: 'simulated', sensor: 'water_level', seed: 3, time_scale: 600 },
    })
    const env = { TEST_DEVICE_SECRET: secret }
    const stored = async (s: Stack) =>
      s.store.readings({ device: 'phu-oc-01', metric: 'seq', from: 0, to: Date.now() + 60_000, limit: 100_000 })

    // 1. Online: readings flow.
    const a1 = spawnAgent(config, env)
    agents.push(a1)
    const s1 = stack
    await waitFor(async () => (await stored(s1)).length >= 20, 20_000)

    // 2. The gateway goes away; the agent keeps reading into its disk queue.
    await stack.close()
    stack = undefined
    await waitFor(() => queueState(queuePath).depth >= 40, 20_000)

    // 3. kill -9 while offline, then restart, still offline, and let it read some more.
    a1.kill('SIGKILL')
    await exited(a1)
    const afterKill = queueState(queuePath)
    expect(afterKill.depth).toBeGreaterThanOrEqual(40)
    const a2 = spawnAgent(config, env)
    agents.push(a2)
    await waitFor(() => queueState(queuePath).nextSeq >= afterKill.nextSeq + 20, 20_000)
    // seq continues from disk: no number reused after the kill.
    expect(queueState(queuePath).depth).toBeGreaterThanOrEqual(afterKill.depth + 20)

    // 4. The gateway comes back on the same port and data: the backlog drains.
    stack = await startStack({ dataDir, mqttPort, ingest: { lateAfterSeconds: 1 } })
    const s2 = stack
    await waitFor(() => queueState(queuePath).depth <= 2, 30_000)

    // 5. Stop the agent (SIGTERM: graceful) and count.
    a2.kill('SIGTERM')
    expect(await exited(a2)).toBe(0)
    const final = queueState(queuePath)
    expect(final.dropped).toBe(0)
    await waitFor(async () => (await stored(s2)).length >= final.nextSeq - final.depth, 10_000)
    const seqs = (await stored(s2)).map((p) => p.value as number).sort((x, y) => x - y)
    // Every seq the agent gave out and sent is stored, once.
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs.length).toBe(final.nextSeq - final.depth)
    expect(seqs[0]).toBe(0)
    expect(seqs[seqs.length - 1]).toBe(seqs.length - 1)
    // The replay kept each reading's own time: points are spread over the outage, not bunched at replay.
    const pts = await s2.store.readings({ device: 'phu-oc-01', metric: 'water_level', from: 0, to: Date.now() + 60_000, limit: 100_000 })
    expect(pts.length).toBe(seqs.length)
    const gaps = pts.slice(1).map((p, i) => p.ts - pts[i]!.ts)
    expect(Math.max(...gaps)).toBeLessThan(5_000)
    // The backlog went out in batches (array payloads), not one message per reading.
    const metric = async (name: string) =>
      (await s2.metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.topic !== 'status')?.value ?? 0
    const replayed = await metric('iocgw_ingest_readings_stored_total')
    const messages = await metric('iocgw_ingest_messages_total')
    expect(replayed).toBeGreaterThan(60)
    expect(messages).toBeLessThan(replayed / 5)
    // Late readings were marked so.
    const late = (await s2.metrics.registry.getSingleMetric('iocgw_ingest_late_total')!.get()).values[0]?.value ?? 0
    expect(late).toBeGreaterThan(0)
  }, 180_000)
})
