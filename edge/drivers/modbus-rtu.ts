import Type, { type Static } from 'typebox'
import { modbusPlugin, modbusSchema } from './modbus-common.ts'

const Schema = modbusSchema(
  'modbus-rtu',
  {
    path: Type.String({ minLength: 1, description: 'Serial device, e.g. /dev/ttyUSB0' }),
    baud_rate: Type.Integer({ minimum: 300, maximum: 921_600, default: 9600 }),
    parity: Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('odd')], { default: 'none' }),
    data_bits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8 }),
    stop_bits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1 }),
  },
  // Modbus over Serial Line v1.02 §2.2: 0 is the broadcast address, 248-255 are reserved.
  { minimum: 1, maximum: 247 },
  1000,
)

/** Modbus RTU over a serial line (Modbus over Serial Line v1.02) through modbus-serial. */
export default modbusPlugin<Static<typeof Schema>>(
  'modbus-rtu',
  Schema,
  (cfg) => ({ path: cfg.path }),
  (c, cfg) =>
    c.connectRTUBuffered(cfg.path, { baudRate: cfg.baud_rate, parity: cfg.parity, dataBits: cfg.data_bits, stopBits: cfg.stop_bits }),
)
