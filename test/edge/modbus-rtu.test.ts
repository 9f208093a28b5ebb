import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import modbusSerial from 'modbus-serial'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkEdgeConfig } from '../../edge/config.ts'
import modbusRtu from '../../edge/drivers/modbus-rtu.ts'
import { encodeWords } from '../../edge/drivers/registers.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { requireCommand, tempDir, waitFor } from '../support/services.ts'

// Modbus RTU over a real serial line: socat joins two pseudo-terminals, modbus-serial's
// ServerSerial answers on one end as a level transmitter, the driver polls the other end.

const hasSocat = requireCommand('socat')

describe.skipIf(!hasSocat)('modbus-rtu driver over a serial line (socat pty pair)', () => {
  const dir = tempDir()
  const a = join(dir.path, 'ttyA')
  const b = join(dir.path, 'ttyB')
  let socat: ChildProcess
  let server: { close(cb: () => void): void; on(ev: string, cb: (...x: unknown[]) => void): unknown }
  const holding = new Map<number, number>()
  const [hi, lo] = encodeWords({ type: 'float32', word_order: 'big' }, 2.31)
  holding.set(0, lo!).set(1, hi!) // float32, low word first
  holding.set(2, 1264)

  beforeAll(async () => {
    socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
    await waitFor(() => existsSync(a) && existsSync(b), 10_000)
    const ServerSerial = (modbusSerial as unknown as { ServerSerial: new (v: unknown, o: unknown) => typeof server }).ServerSerial
    server = new ServerSerial({ getHoldingRegister: (addr: number) => holding.get(addr) ?? 0 }, { path: a, baudRate: 9600, unitID: 7 })
    await new Promise<void>((resolve, reject) => {
      server.on('initialized', () => resolve())
      server.on('error', (e) => reject(e as Error))
    })
  })
  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()))
    socat?.kill('SIGTERM')
    dir.remove()
  })

  it('reads a float32 level (low word first) and a scaled battery voltage', async () => {
    const cfg = await checkEdgeConfig(
      {
        device: { id: 'rtu-01', password: 'x' },
        mqtt: { url: 'mqtt://127.0.0.1:1' },
        driver: {
          type: 'modbus-rtu',
          path: b,
          baud_rate: 9600,
          unit_id: 7,
          registers: [
            { metric: 'water_level', address: 0, type: 'float32', word_order: 'little' },
            { metric: 'battery', address: 2, type: 'uint16', scale: 0.01 },
          ],
        },
      },
      dir.path,
    )
    const driver = await modbusRtu.create(cfg.driver as never, { logger: createLogger('silent'), deviceId: 'rtu-01' })
    try {
      const s = await driver.read(Date.now())
      expect(s.water_level).toBeCloseTo(2.31, 5)
      expect(s.battery).toBeCloseTo(12.64, 9)
    } finally {
      await driver.close()
    }
  })
})
