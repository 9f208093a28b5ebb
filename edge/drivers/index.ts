import type { DriverPlugin } from './types.ts'

/** Drivers by config `driver.type`; each lives in edge/drivers/<name>.ts and is loaded on demand. */
export const DRIVERS: Record<string, () => Promise<{ default: DriverPlugin<never> }>> = {
  simulated: () => import('./simulated.ts') as never,
  'modbus-tcp': () => import('./modbus-tcp.ts') as never,
  'modbus-rtu': () => import('./modbus-rtu.ts') as never,
}
