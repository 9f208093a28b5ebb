import Type, { type Static } from 'typebox'
import { linkSettings, modbusDriver } from './modbus-common.ts'
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
    const link = { name: 'modbus-tcp', where: { host: cfg.host }, ...linkSettings(cfg), logger: ctx.logger }
    return modbusDriver(link, (c) => c.connectTCP(cfg.host, { port: cfg.port }))
  },
}
export default plugin
