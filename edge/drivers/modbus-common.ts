import modbusSerial from 'modbus-serial'
import { applyScale, decodeWords, wordCount, type RegisterEntry } from './registers.ts'
import type { Sample } from './types.ts'

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
