import { spawn } from 'node:child_process'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mosquittoArgs } from '../support/mosquitto-clients.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { requireCommand, tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from './stack.ts'
import { metricValue } from '../support/metrics.ts'

// Readings without `ts` (docs/mqtt.md, "A reading without a time"): each gets a time of its own,
// strictly later than the device's previous reading, so readings that arrive in the same
// millisecond never share a point identity and never replace each other, in SQLite and in
// InfluxDB alike. A burst from mosquitto_pub (one connection, back to back) lands many readings
// in one millisecond: before the rule, 100 such readings left 23 in InfluxDB.

const HAVE = requireCommand('mosquitto_pub') && requireInfluxd()
const system = { type: 'system' as const, id: 'test' }
const DAY = 86_400_000

/** Publishes each line as one message over one connection, QoS 1, as fast as it can. */
function burst(stack: Stack, device: string, secret: string, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const login = { port: stack.mqttPort, user: device, pass: secret }
    const args = mosquittoArgs(login, `devices/${device}/telemetry`, '-i', device, '-q', '1', '-l')
    const p = spawn('mosquitto_pub', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.once('error', reject)
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}: ${err}`))))
    p.stdin.end(`${lines.join('\n')}\n`)
  })
}

async function seqsOf(stack: Stack, device: string): Promise<number[]> {
  const now = Date.now()
  const pts = await stack.store.readings({ device, metric: 'seq', from: now - DAY, to: now + DAY, limit: 10_000 })
  return pts.map((p) => p.value as number)
}

/** The device's seqs once at least `count` are stored (60 s at the most). */
const seqsOnceStored = (stack: Stack, device: string, count: number) =>
  waitFor(
    async () => {
      const s = await seqsOf(stack, device)
      return s.length >= count ? s : undefined
    },
    60_000,
    100,
  )

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe.skipIf(!HAVE)('readings without ts keep a time of their own', () => {
  const dirs = { sqlite: tempDir('iocgw-untimed-sqlite-'), influx: tempDir('iocgw-untimed-influx-') }
  let influxd: Influxd
  const stacks = {} as Record<'sqlite' | 'influx', Stack>

  beforeAll(async () => {
    influxd = await startInfluxd()
    stacks.sqlite = await startStack({ dataDir: dirs.sqlite.path })
    stacks.influx = await startStack({ dataDir: dirs.influx.path, influxUrl: influxd.urlFor('ioc_untimed') })
  }, 60_000)
  afterAll(async () => {
    await stacks.sqlite?.close()
    await stacks.influx?.close()
    await influxd?.remove()
    dirs.sqlite.remove()
    dirs.influx.remove()
  }, 60_000)

  for (const backend of ['sqlite', 'influx'] as const) {
    it(`${backend}: 100 readings without ts published back to back by mosquitto_pub are all stored`, async () => {
      const stack = stacks[backend]
      const { secret } = await stack.registry.createDevice(
        { id: 'burst-01', kind: 'water_level', name: 'Burst', station: 'kim-long' },
        system,
      )
      const lines = range(1, 100).map((seq) => JSON.stringify({ seq, values: { water_level: 1 + seq / 1000 } }))
      await burst(stack, 'burst-01', secret, lines)
      const seqs = await seqsOnceStored(stack, 'burst-01', 100)
      // Oldest first: the times follow the order the readings arrived in, each one distinct.
      expect(seqs).toEqual(range(1, 100))
      const now = Date.now()
      const levels = await stack.store.readings({ device: 'burst-01', metric: 'water_level', from: now - DAY, to: now + DAY, limit: 1000 })
      expect(new Set(levels.map((p) => p.ts)).size).toBe(100)
      expect(levels.map((p) => p.value)).toEqual(range(1, 100).map((seq) => 1 + seq / 1000))
      if (backend === 'influx') {
        const r = await influxd.query(`SELECT count(seq) FROM readings WHERE device = 'burst-01'`, 'ioc_untimed')
        expect(r.results[0]!.series![0]!.values[0]![1]).toBe(100)
      }
    }, 120_000)

    it(`${backend}: an array and a SenML pack without times keep every reading; a true duplicate is stored once`, async () => {
      const stack = stacks[backend]
      const { secret } = await stack.registry.createDevice(
        { id: 'pack-01', kind: 'water_level', name: 'Pack', station: 'kim-long' },
        system,
      )
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, {
        username: 'pack-01',
        password: secret,
        clientId: 'pack-01',
        reconnectPeriod: 0,
      })
      try {
        // An array of 30 readings without ts, the last one sent twice (a true duplicate).
        const arr = range(1, 30).map((seq) => ({ seq, values: { water_level: 2 + seq / 1000 } }))
        await c.publishAsync('devices/pack-01/telemetry', JSON.stringify([...arr, arr[29]]), { qos: 1 })
        // A SenML pack without bt or t: ten readings of water_level and seq, each record pair one reading.
        const senml = range(31, 40).flatMap((seq) => [
          { n: 'water_level', u: 'cm', v: 200 + seq },
          { n: 'seq', v: seq },
        ])
        await c.publishAsync('devices/pack-01/telemetry', JSON.stringify([{ bn: 'pack-01/', ...senml[0] }, ...senml.slice(1)]), { qos: 1 })
      } finally {
        await c.endAsync()
      }
      const seqs = await seqsOnceStored(stack, 'pack-01', 40)
      expect(seqs).toEqual(range(1, 40))
      const now = Date.now()
      const levels = await stack.store.readings({ device: 'pack-01', metric: 'water_level', from: now - DAY, to: now + DAY, limit: 1000 })
      expect(levels.slice(30).map((p) => p.value)).toEqual(range(31, 40).map((seq) => (200 + seq) / 100))
      expect(await metricValue(stack.metrics, 'ingest_duplicates_total')).toBe(1)
    }, 120_000)
  }
})
