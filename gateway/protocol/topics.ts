// Topic names shared by the gateway and the edge agent (docs/mqtt.md). Kept in one place so both
// sides can never disagree on a level or a spelling.

export const DEVICE_TOPIC_PREFIX = 'devices/'

export const deviceTopic = {
  telemetry: (id: string) => `devices/${id}/telemetry`,
  status: (id: string) => `devices/${id}/status`,
  config: (id: string) => `devices/${id}/config`,
  cmd: (id: string) => `devices/${id}/cmd`,
  cmdAck: (id: string) => `devices/${id}/cmd/ack`,
  frames: (id: string, captureMs?: number) => (captureMs === undefined ? `devices/${id}/frames` : `devices/${id}/frames/${captureMs}`),
} as const
