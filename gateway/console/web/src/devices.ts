import type { Device, DeviceKind } from '../../../registry/types.ts'
import { allPages, api, type Page } from './api.ts'

// The Devices page's data (docs/api.md, "Devices") and the two things made from a device's
// credentials for its edge agent (docs/console.md, "Devices"): the QR code's text and the edge
// config file. Plain functions, no DOM: Node tests can import them too.

// A device as GET /devices answers it is the registry's own record: one type for both. The
// registry's types module holds declarations and constants only, so the console's bundle takes
// DEVICE_KINDS from it and nothing of the server.
export { DEVICE_KINDS } from '../../../registry/types.ts'
export type { Device, DeviceKind, DeviceState } from '../../../registry/types.ts'

export interface Credentials {
  username: string
  password: string
  mqtt_url: string
}

export interface Registered {
  device: Device
  credentials: Credentials
}

export interface Reject {
  ts: string
  topic: string
  reason: string
  message: string
  excerpt: string
}

export interface NewDevice {
  kind: DeviceKind
  id?: string
  name: string
  station?: string
  district?: string
  location?: { lat: number; lon: number }
}

const path = (id: string) => `/devices/${encodeURIComponent(id)}`

export const listDevices = () => allPages<Device>('/devices')

export const registerDevice = (body: NewDevice) => api.post<Registered>('/devices', body)
export const rotateSecret = (id: string) => api.post<Registered>(`${path(id)}/rotate-secret`)
export const setState = (id: string, state: 'active' | 'disabled') => api.patch<Device>(path(id), { state })
export const removeDevice = (id: string) => api.delete<Device>(path(id))
export const loadRejects = async (id: string) => (await api.get<Page<Reject>>(`${path(id)}/rejects`)).items

/**
 * The QR code's text: one JSON object with exactly the three keys of the API's `credentials`, in
 * this order. An edge set-up tool maps them onto the edge config (config/edge.example.yaml):
 * `mqtt_url` → `mqtt.url`, `username` → `device.id`, `password` → `device.password`.
 */
export function qrText(c: Credentials): string {
  return JSON.stringify({ mqtt_url: c.mqtt_url, username: c.username, password: c.password })
}

/** A YAML scalar: JSON's double-quoted string is valid YAML 1.2, so any name or secret stays intact. */
const q = (s: string) => JSON.stringify(s)

const DRIVER: Record<DeviceKind, string[]> = {
  // edge/camera/config.ts: exactly one source must be given; left for the technician on site.
  camera: [
    'driver:',
    '  type: camera',
    '  # Give exactly one source (docs/vision.md), then remove the others:',
    '  # rtsp_url: rtsp://192.168.1.64:554/Streaming/Channels/101',
    '  # snapshot_url: http://192.168.1.64/ISAPI/Streaming/channels/101/picture',
    '  # onvif: { xaddr: http://192.168.1.64/onvif/device_service }',
    '  interval_s: 5',
  ],
  water_level: modbus(),
  rain_gauge: modbus(),
  air_quality: modbus(),
}

// A sensor's transmitter and registers are only known on site: the file names the driver and
// leaves its address out, so an unfinished file stops the agent with "driver.host is required"
// instead of reading from a wrong address.
function modbus(): string[] {
  return [
    'driver:',
    '  type: modbus-tcp               # or modbus-rtu; every key in config/edge.example.yaml',
    '  # host: 192.168.1.50',
    '  # port: 502',
    '  # unit_id: 1',
    '  # registers:',
    '  #   - { metric: water_level, address: 0, table: holding, type: int32, scale: 0.001 }',
  ]
}

/** The edge agent's config file (edge/config.ts; `iocgw edge --config <file>`) for this device. */
export function edgeConfig(device: Pick<Device, 'id' | 'kind' | 'name'>, c: Credentials): string {
  return [
    `# Edge agent of ${q(device.name)} (${device.id}): iocgw edge --config ${edgeConfigFileName(device.id)}`,
    '# Holds the device secret: keep this file private (chmod 600) or move the secret to password_env.',
    'device:',
    `  id: ${q(c.username)}`,
    `  password: ${q(c.password)}`,
    'mqtt:',
    `  url: ${q(c.mqtt_url)}`,
    'queue:',
    `  path: ${q(`./edge-data/${device.id}.db`)}`,
    ...DRIVER[device.kind],
    '',
  ].join('\n')
}

export const edgeConfigFileName = (id: string) => `${id}.edge.yaml`
