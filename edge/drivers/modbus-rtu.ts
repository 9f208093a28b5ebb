import Type, { type Static } from 'typebox'
import { readMap, ModbusRTU, type ModbusClient } from './modbus-common.ts'
import { RegisterEntry } from './registers.ts'
import type { DriverPlugin } from './types.ts'

const Schema = Type.Object(
  {
    type: Type.Literal('modbus-rtu'),
    path: Type.String({ minLength: 1, description: 'Serial device, e.g. /dev/ttyUSB0' }),
    baud_rate: Type.Integer({ minimum: 300, maximum: 921_600, default: 9600 }),
    parity: Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('odd')], { default: 'none' }),
    data_bits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8 }),
    stop_bits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1 }),
    unit_id: Type.Integer({ minimum: 1, maximum: 247, default: 1 }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
    registers: Type.Array(RegisterEntry, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false },
)
type Config = Static<typeof Schema>

/** Modbus RTU over a serial line (Modbus over Serial Line v1.02) through modbus-serial. */
const plugin: DriverPlugin<Config> = {
  name: 'modbus-rtu',
  schema: Schema,
  async create(cfg, ctx) {
    let client: ModbusClient | undefined
    const connect = async (): Promise<ModbusClient> => {
      if (client?.isOpen) return client
      const c = new ModbusRTU()
      await c.connectRTUBuffered(cfg.path, { baudRate: cfg.baud_rate, parity: cfg.parity, dataBits: cfg.data_bits, stopBits: cfg.stop_bits })
      c.setID(cfg.unit_id)
      c.setTimeout(cfg.timeout_ms)
      client = c
      return c
    }
    return {
      async read() {
        try {
          return await readMap(await connect(), cfg.registers)
        } catch (err) {
          ctx.logger.warn({ err: (err as Error).message, path: cfg.path }, 'modbus-rtu read failed')
          const c = client
          client = undefined
          await new Promise<void>((r) => (c ? c.close(() => r()) : r()))
          throw err
        }
      },
      async close() {
        const c = client
        client = undefined
        if (c) await new Promise<void>((r) => c.close(() => r()))
      },
    }
  },
}
export default plugin
