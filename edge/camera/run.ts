import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import type { Logger } from '../../gateway/log/logger.ts'
import { schemaProblem } from '../../gateway/util/schema-error.ts'
import { startCameraAgent, type CameraAgent } from './agent.ts'
import { CameraDriverSchema, checkCameraSource, type CameraDriverConfig } from './config.ts'

const check = Compile(CameraDriverSchema)

/** Checks an edge config's `driver:` section for a camera; throws one line naming the key. */
export function parseCameraDriver(raw: unknown): CameraDriverConfig {
  const withDefaults = Value.Default(CameraDriverSchema, structuredClone(raw ?? {}))
  if (!check.Check(withDefaults)) {
    const e = schemaProblem(check.Errors(withDefaults), { prefix: 'driver', unknown: 'is not a known key' })
    throw new Error(`${e?.key ?? 'driver'} ${e?.message ?? 'is not valid'}`)
  }
  const problem = checkCameraSource(withDefaults)
  if (problem) throw new Error(problem)
  return withDefaults
}

/**
 * What `iocgw edge` calls when `driver.type` is `camera`: the device and MQTT settings come from
 * the agent's own (already checked) config, the driver section is checked here.
 */
export function startCameraFromEdgeConfig(
  cfg: {
    device: { id: string; fw?: string | undefined }
    password: string
    mqtt: { url: string; ca_file?: string | undefined }
    driver: unknown
  },
  logger: Logger,
): Promise<CameraAgent> {
  const driver = parseCameraDriver(cfg.driver)
  return startCameraAgent({
    deviceId: cfg.device.id,
    password: cfg.password,
    mqttUrl: cfg.mqtt.url,
    caFile: cfg.mqtt.ca_file,
    fw: cfg.device.fw,
    driver,
    logger,
  })
}
