import Type, { type Static } from 'typebox'
import { modbusPlugin, RegisterMap } from './modbus-common.ts'

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
    registers: RegisterMap,
  },
  { additionalProperties: false },
)

/** Modbus RTU over a serial line (Modbus over Serial Line v1.02) through modbus-serial. */
export default modbusPlugin<Static<typeof Schema>>(
  'modbus-rtu',
  Schema,
  (cfg) => ({ path: cfg.path }),
  (c, cfg) =>
    c.connectRTUBuffered(cfg.path, { baudRate: cfg.baud_rate, parity: cfg.parity, dataBits: cfg.data_bits, stopBits: cfg.stop_bits }),
)
