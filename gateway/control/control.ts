import { randomBytes } from 'node:crypto'
import { Compile } from 'typebox/compile'
import type { DevicePublishHandler } from '../broker/types.ts'
import { BoundedMap } from '../util/lru.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { CommandAck, type DeviceConfig } from '../protocol/schemas.ts'
import { deviceTopic } from '../protocol/topics.ts'
import { RegistryError, type DeviceRegistry } from '../registry/types.ts'

// Gateway-to-device messages of docs/mqtt.md: `devices/{id}/config` (retained, so a device that connects
// later still gets it) and `devices/{id}/cmd`, answered by the device on `devices/{id}/cmd/ack`.

export type PublishFn = (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>

export interface SentCommand {
  id: string
  device: string
  cmd: string
  args: Record<string, unknown> | null
  sent_at: string
  ack: CommandAck | null
}

export interface DeviceControl {
  setConfig(deviceId: string, config: DeviceConfig): Promise<DeviceConfig>
  sendCommand(deviceId: string, cmd: string, args: Record<string, unknown> | undefined): Promise<SentCommand>
  getCommand(deviceId: string, id: string): SentCommand | undefined
  /** Broker route for the device's `cmd/ack` messages. */
  ackHandler: DevicePublishHandler
}

const checkAck = Compile(CommandAck)
// Recent commands and their answers, for GET .../cmd/:id; older ones are forgotten, the device
// log keeps the rest. Bounded so that a flood of commands cannot grow memory.
const REMEMBERED_COMMANDS = 10_000

export function createDeviceControl(deps: {
  registry: DeviceRegistry
  publish: PublishFn
  logger: Logger
  metrics: Metrics
}): DeviceControl {
  const log = deps.logger.child({ component: 'control' })
  const sent = new BoundedMap<string, SentCommand>(REMEMBERED_COMMANDS)
  const m = {
    configs: deps.metrics.counter('device_config_sent_total', 'Configurations published to devices (retained)'),
    commands: deps.metrics.counter('device_commands_sent_total', 'Commands published to devices', ['cmd']),
    acks: deps.metrics.counter('device_command_acks_total', 'Command answers from devices, by outcome', ['outcome']),
  }

  async function activeDevice(id: string): Promise<void> {
    const d = await deps.registry.getDevice(id)
    if (!d) throw new RegistryError('not_found', `device "${id}" does not exist`)
    if (d.state === 'decommissioned') throw new RegistryError('conflict', `device "${id}" is decommissioned`)
  }

  return {
    async setConfig(deviceId, config) {
      await activeDevice(deviceId)
      await deps.publish(`devices/${deviceId}/config`, JSON.stringify(config), { qos: 1, retain: true })
      m.configs.inc()
      return config
    },

    async sendCommand(deviceId, cmd, args) {
      await activeDevice(deviceId)
      const id = randomBytes(8).toString('hex')
      const record: SentCommand = { id, device: deviceId, cmd, args: args ?? null, sent_at: new Date().toISOString(), ack: null }
      sent.set(`${deviceId}|${id}`, record)
      await deps.publish(deviceTopic.cmd(deviceId), JSON.stringify({ id, cmd, ...(args ? { args } : {}) }), { qos: 1, retain: false })
      m.commands.inc({ cmd })
      return record
    },

    getCommand: (deviceId, id) => sent.get(`${deviceId}|${id}`),

    ackHandler: async (msg) => {
      if (msg.subtopic !== 'cmd/ack') return
      let doc: unknown
      try {
        doc = JSON.parse(msg.payload.toString('utf8'))
      } catch {
        doc = undefined
      }
      if (!checkAck.Check(doc)) {
        m.acks.inc({ outcome: 'invalid' })
        log.warn({ device: msg.device.id }, 'cmd/ack payload is not {"id","cmd","ok","ts",...}; ignored')
        return
      }
      const record = doc.id === null ? undefined : sent.get(`${msg.device.id}|${doc.id}`)
      if (!record) {
        m.acks.inc({ outcome: 'unknown_command' })
        return
      }
      record.ack = doc
      m.acks.inc({ outcome: doc.ok ? 'ok' : 'error' })
    },
  }
}
