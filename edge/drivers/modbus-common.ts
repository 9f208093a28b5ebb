import modbusSerial from 'modbus-serial'
import Type, { type TProperties, type TSchema } from 'typebox'
import { applyScale, decodeWords, RegisterEntry, wordCount } from './registers.ts'
import type { Logger } from '../../gateway/log/logger.ts'
import type { Driver, DriverPlugin, Sample } from './types.ts'

// modbus-serial is CommonJS whose module.exports is the client class; its typings describe an ES
// default export, which NodeNext reads as the whole module. One cast here, typed everywhere else.
type ModbusRTUCtor = typeof modbusSerial.default
export const ModbusRTU = modbusSerial as unknown as ModbusRTUCtor
export const ServerTCP = modbusSerial.ServerTCP
export type ModbusClient = InstanceType<ModbusRTUCtor>

/** Reads every entry of a register map (one request per entry: maps are short, gaps are common). */
export async function readMap(client: ModbusClient, map: readonly RegisterEntry[]): Promise<Sample> {
  const out: Sample = {}
  for (const e of map) {
    const n = wordCount(e.type)
    const res = e.table === 'input' ? await client.readInputRegisters(e.address, n) : await client.readHoldingRegisters(e.address, n)
    const v = applyScale(e, decodeWords(e, res.data))
    if (!Number.isFinite(v)) throw new Error(`register ${e.address} (${e.metric}) decoded to ${v}`)
    out[e.metric] = v
  }
  return out
}

/**
 * A Modbus driver's configuration: its type, its link's own fields, then what every Modbus driver
 * holds: the unit id (its range is the transport's), the timeout and the register map.
 */
export function modbusSchema<T extends string, L extends TProperties>(
  type: T,
  link: L,
  unitId: { minimum: number; maximum: number },
  timeoutMs: number,
) {
  return Type.Object(
    {
      type: Type.Literal(type),
      ...link,
      unit_id: Type.Integer({ ...unitId, default: 1 }),
      timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: timeoutMs }),
      registers: Type.Array(RegisterEntry, { minItems: 1, maxItems: 64 }),
    },
    { additionalProperties: false },
  )
}

/** What every Modbus driver's configuration holds besides its link: the unit asked, the timeout, the register map. */
export interface ModbusConfig {
  unit_id: number
  timeout_ms: number
  registers: readonly RegisterEntry[]
}

/** A Modbus driver plugin: `where` names its link in logs, `open` connects a client over it. */
export function modbusPlugin<C extends ModbusConfig>(
  name: string,
  schema: TSchema,
  where: (cfg: C) => Record<string, unknown>,
  open: (client: ModbusClient, cfg: C) => Promise<void>,
): DriverPlugin<C> {
  return {
    name,
    schema,
    async create(cfg, ctx) {
      const link = { name, where: where(cfg), unitId: cfg.unit_id, timeoutMs: cfg.timeout_ms, registers: cfg.registers, logger: ctx.logger }
      return modbusDriver(link, (c) => open(c, cfg))
    },
  }
}

/**
 * A Modbus driver over one link (TCP or serial): connects on first use, reads the register map,
 * and drops the link after a failed read so the next poll reconnects (a PLC restart or an unplugged
 * adapter closes it under us).
 */
export function modbusDriver(
  opts: {
    name: string
    where: Record<string, unknown>
    unitId: number
    timeoutMs: number
    registers: readonly RegisterEntry[]
    logger: Logger
  },
  open: (client: ModbusClient) => Promise<void>,
): Driver {
  let client: ModbusClient | undefined
  const closeLink = async (): Promise<void> => {
    const c = client
    client = undefined
    if (c) await new Promise<void>((r) => c.close(() => r()))
  }
  const connect = async (): Promise<ModbusClient> => {
    if (client?.isOpen) return client
    const c = new ModbusRTU()
    await open(c)
    c.setID(opts.unitId)
    c.setTimeout(opts.timeoutMs)
    client = c
    return c
  }
  return {
    async read() {
      try {
        return await readMap(await connect(), opts.registers)
      } catch (err) {
        opts.logger.warn({ err, ...opts.where }, `${opts.name} read failed`)
        await closeLink()
        throw err
      }
    },
    close: closeLink,
  }
}
