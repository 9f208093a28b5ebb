import Type, { type Static } from 'typebox'
import { readMap, ModbusRTU, type ModbusClient } from './modbus-common.ts'
import { RegisterEntry } from './registers.ts'
import type { DriverPlugin } from './types.ts'

const Schema = Type.Object(
  {
    type: Type.Literal('modbus-tcp'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }),
    unit_id: Type.Integer({ minimum: 0, maximum: 255, default: 1 }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
    registers: Type.Array(RegisterEntry, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false },
)
type Config = Static<typeof Schema>

/** Modbus TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b) through modbus-serial. */
const plugin: DriverPlugin<Config> = {
  name: 'modbus-tcp',
  schema: Schema,
  async create(cfg, ctx) {
    let client: ModbusClient | undefined
    const connect = async (): Promise<ModbusClient> => {
      if (client?.isOpen) return client
      const c = new ModbusRTU()
      await c.connectTCP(cfg.host, { port: cfg.port })
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
          // Drop the link so the next poll reconnects (a PLC restart closes the socket).
          ctx.logger.warn({ err: (err as Error).message, host: cfg.host }, 'modbus-tcp read failed')
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
