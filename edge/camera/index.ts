import type { Logger } from '../../gateway/log/logger.ts'
import { startCameraAgent, type CameraAgent } from './agent.ts'
import { CameraDriverSchema, type CameraDriverConfig } from './config.ts'

// Entry for the edge agent: a camera does not produce telemetry samples (edge/drivers' Driver.read),
// it streams frames, so it is a driver with its own `start` instead of `create`. `iocgw edge`
// starts it when the config says `driver: { type: camera, ... }`.

export interface CameraDriverPlugin {
  name: 'camera'
  schema: typeof CameraDriverSchema
  start(
    config: CameraDriverConfig,
    ctx: { logger: Logger; deviceId: string; password: string; mqttUrl: string; caFile?: string | undefined; fw?: string | undefined },
  ): Promise<CameraAgent>
}

const camera: CameraDriverPlugin = {
  name: 'camera',
  schema: CameraDriverSchema,
  start: (config, ctx) => startCameraAgent({ ...ctx, driver: config }),
}
export default camera

export { startCameraAgent, type CameraAgent } from './agent.ts'
export { CameraDriverSchema, type CameraDriverConfig } from './config.ts'
export { connectOnvif, discover, type CameraDescription, type DiscoveredCamera } from './onvif.ts'
export { parseCameraDriver, startCameraFromEdgeConfig } from './run.ts'
