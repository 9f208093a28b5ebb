import Type, { type Static } from 'typebox'
import { modbusPlugin, RegisterMap } from './modbus-common.ts'

const Schema = Type.Object(
  {
    type: Type.Literal('modbus-tcp'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }),
    unit_id: Type.Integer({ minimum: 0, maximum: 255, default: 1 }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
    registers: RegisterMap,
  },
  { additionalProperties: false },
)

/** Modbus TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b) through modbus-serial. */
export default modbusPlugin<Static<typeof Schema>>(
  'modbus-tcp',
  Schema,
  (cfg) => ({ host: cfg.host }),
  (c, cfg) => c.connectTCP(cfg.host, { port: cfg.port }),
)
