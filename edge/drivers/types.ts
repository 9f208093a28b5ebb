import type { TSchema } from 'typebox'
import type { Logger } from '../../gateway/log/logger.ts'

/** One sample: canonical metric → value (the canonical units of docs/mqtt.md). */
export type Sample = Record<string, number>

/** A sensor driver. `read` takes one sample now; it may throw (the agent counts and goes on). */
export interface Driver {
  read(at: number): Promise<Sample>
  close(): Promise<void>
}

export interface DriverContext {
  logger: Logger
  deviceId: string
}

/**
 * A driver plugin: edge/drivers/<name>.ts default-exports one. `schema` checks the `driver`
 * section of the agent's config (with `type: <name>`) before `create` sees it.
 */
export interface DriverPlugin<C = unknown> {
  name: string
  schema: TSchema
  create(config: C, ctx: DriverContext): Promise<Driver>
}
