import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEdgeAgent } from '../../edge/agent.ts'
import { checkEdgeConfig } from '../../edge/config.ts'
import { ServerTCP } from '../../edge/drivers/modbus-common.ts'
import modbusTcp from '../../edge/drivers/modbus-tcp.ts'
import { encodeWords } from '../../edge/drivers/registers.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from '../ingest/stack.ts'

// A real Modbus TCP server (modbus-serial's ServerTCP) whose holding registers hold a river level
// in millimetres as a 32-bit integer: at 0-1 with the high word first, at 10-11 with the low word
// first; a battery voltage in centivolts at 20 (uint16) and a temperature in tenths at input 5.

const LEVEL_MM = 2310
const holding = new Map<number, number>()
const input = new Map<number, number>()
function setLevel(mm: number) {
  const [a, b] = encodeWords({ type: 'int32', word_order: 'big' }, mm)
  const [c, d] = encodeWords({ type: 'int32', word_order: 'little' }, mm)
  holding.set(0, a!).set(1, b!).set(10, c!).set(11, d!)
}
setLevel(LEVEL_MM)
holding.set(20, 1264)
input.set(5, encodeWords({ type: 'int16', word_order: 'big' }, -55)[0]!)

const registers = (order: 'big' | 'little') => [
  { metric: 'water_level', address: order === 'big' ? 0 : 10, type: 'int32', word_order: order, scale: 0.001, offset: 0 },
  { metric: 'battery', address: 20, type: 'uint16', scale: 0.01 },
  { metric: 'temperature', address: 5, table: 'input', type: 'int16', scale: 0.1 },
]

describe('modbus-tcp driver against a real Modbus TCP server', () => {
  let server: InstanceType<typeof ServerTCP>
  let port: number
  const logger = createLogger('silent')

  beforeAll(async () => {
    port = await freePort()
    server = new ServerTCP(
      {
        getHoldingRegister: (addr: number) => holding.get(addr) ?? 0,
        getInputRegister: (addr: number) => input.get(addr) ?? 0,
      },
      { host: '127.0.0.1', port, unitID: 1 },
    )
    await new Promise<void>((resolve) => server.on('initialized', () => resolve()))
  })
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()))
  })

  for (const order of ['big', 'little'] as const) {
    it(`reads an int32 level in mm with ${order}-endian word order as metres`, async () => {
      const cfg = await checkEdgeConfig(
        {
          device: { id: 'mb-01', password: 'x' },
          mqtt: { url: 'mqtt://127.0.0.1:1' },
          driver: { type: 'modbus-tcp', host: '127.0.0.1', port, registers: registers(order) },
        },
        '/tmp',
      )
      const driver = await modbusTcp.create(cfg.driver as never, { logger, deviceId: 'mb-01' })
      try {
        const s = await driver.read(Date.now())
        expect(s.water_level).toBeCloseTo(2.31, 9)
        expect(s.battery).toBeCloseTo(12.64, 9)
        expect(s.temperature).toBeCloseTo(-5.5, 9)
      } finally {
        await driver.close()
      }
    })
  }

  it('a wrong word order reads a wildly different level (which ingest then refuses as out of range)', async () => {
    const wrong = registers('little').map((r) => (r.metric === 'water_level' ? { ...r, address: 0 } : r))
    const cfg = await checkEdgeConfig(
      {
        device: { id: 'mb-01', password: 'x' },
        mqtt: { url: 'mqtt://127.0.0.1:1' },
        driver: { type: 'modbus-tcp', host: '127.0.0.1', port, registers: wrong },
      },
      '/tmp',
    )
    const driver = await modbusTcp.create(cfg.driver as never, { logger, deviceId: 'mb-01' })
    expect((await driver.read(Date.now())).water_level).toBeCloseTo((LEVEL_MM * 65536) / 1000, 6)
    await driver.close()
  })

  it('end to end: agent polls the server, the gateway stores the level in metres with its alarm level', async () => {
    const dir = tempDir()
    let stack: Stack | undefined
    let agent: Awaited<ReturnType<typeof startEdgeAgent>> | undefined
    try {
      stack = await startStack({ dataDir: dir.path })
      const { secret } = await stack.registry.createDevice(
        { id: 'kim-long-mb', kind: 'water_level', name: 'Kim Long (Modbus)', station: 'kim-long' },
        { type: 'system', id: 'test' },
      )
      const cfg = await checkEdgeConfig(
        {
          device: { id: 'kim-long-mb', password: secret },
          mqtt: { url: `mqtt://127.0.0.1:${stack.mqttPort}` },
          interval_s: 0.2,
          queue: { path: 'queue.db' },
          driver: { type: 'modbus-tcp', host: '127.0.0.1', port, registers: registers('little') },
        },
        dir.path,
      )
      agent = await startEdgeAgent(cfg, { logger })
      const s = stack
      /** What the gateway stored of the agent's `metric` so far. */
      const stored = (metric: string, limit: number, order?: 'desc') =>
        s.store.readings({ device: 'kim-long-mb', metric, from: 0, to: Date.now() + 1000, limit, order })
      const pts = await waitFor(async () => {
        const p = await stored('water_level', 100)
        return p.length >= 2 ? p : undefined
      })
      expect(pts[0]!.value).toBeCloseTo(2.31, 9)
      setLevel(3600)
      const high = await waitFor(async () => {
        const p = await stored('alarm_level', 1000, 'desc')
        return p[0]?.value === 3 ? p : undefined
      })
      expect(high[0]!.value).toBe(3)
      const lv = await stored('water_level', 1, 'desc')
      expect(lv[0]!.value).toBeCloseTo(3.6, 9)
    } finally {
      setLevel(LEVEL_MM)
      await agent?.stop()
      await stack?.close()
      dir.remove()
    }
  })
})
