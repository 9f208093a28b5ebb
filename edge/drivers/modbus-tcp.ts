import Type, { type Static } from 'typebox'
import { modbusPlugin, modbusSchema } from './modbus-common.ts'

const Schema = modbusSchema(
  'modbus-tcp',
  { host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }) },
  { minimum: 0, maximum: 255 },
  3000,
)

/** Modbus TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b) through modbus-serial. */
export default modbusPlugin<Static<typeof Schema>>(
  'modbus-tcp',
  Schema,
  (cfg) => ({ host: cfg.host }),
  (c, cfg) => c.connectTCP(cfg.host, { port: cfg.port }),
)
