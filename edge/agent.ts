import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { Compile } from 'typebox/compile'
import type { Logger } from '../gateway/log/logger.ts'
import {
  DeviceCommand,
  DeviceConfig,
  deviceTopic,
  type CommandAck,
  type DeviceStatus,
  type TelemetryReading,
} from '../gateway/protocol/index.ts'
import type { EdgeConfig } from './config.ts'
import type { Driver } from './drivers/types.ts'
import { ReadingQueue, type QueuedReading } from './queue.ts'

// The edge agent: samples a driver on an interval, commits every reading to the disk queue, and
// forwards the queue head over MQTT with QoS 1, deleting readings only once PUBACKed. A backlog
// goes out as array payloads of `queue.batch_size` readings, oldest first, each with its own
// `ts` and `seq`, so the gateway stores them where they belong and drops any it already has.

export interface EdgeAgent {
  /** Takes a reading now (as the `read-now` command does). */
  readNow(): Promise<QueuedReading | undefined>
  stats(): { depth: number; dropped: number; nextSeq: number; sent: number; driverErrors: number; intervalS: number; connected: boolean }
  stop(): Promise<void>
}

const checkConfig = Compile(DeviceConfig)
const checkCommand = Compile(DeviceCommand)

function toReading(r: QueuedReading): TelemetryReading {
  return { ts: r.ts, seq: r.seq, values: r.values }
}

export async function startEdgeAgent(cfg: EdgeConfig, deps: { logger: Logger; driver?: Driver }): Promise<EdgeAgent> {
  const log = deps.logger.child({ component: 'edge', device: cfg.device.id })
  const id = cfg.device.id
  const queue = new ReadingQueue(cfg.queue.path, { maxReadings: cfg.queue.max_readings, maxAgeMs: cfg.queue.max_age_days * 86_400_000 })
  const driver = deps.driver ?? (await cfg.driverPlugin.create(cfg.driver, { logger: log, deviceId: id }))
  const started = Date.now()
  let intervalS = Number(queue.getMeta('interval_s') ?? cfg.interval_s)
  if (!Number.isFinite(intervalS) || intervalS <= 0) intervalS = cfg.interval_s
  let sent = 0
  let driverErrors = 0
  let stopped = false

  const statusPayload = (online: boolean): DeviceStatus => {
    const q = queue.stats()
    return {
      online,
      ts: new Date().toISOString(),
      fw: cfg.device.fw,
      uptime: Math.round((Date.now() - started) / 1000),
      queue_dropped: q.dropped,
      queue_depth: q.depth,
      interval_s: intervalS,
      driver_errors: driverErrors,
    }
  }

  const opts: IClientOptions = {
    clientId: id,
    username: id,
    password: cfg.password,
    keepalive: cfg.mqtt.keepalive_s,
    reconnectPeriod: cfg.mqtt.reconnect_ms,
    connectTimeout: 10_000,
    clean: true,
    protocolVersion: 4,
    // MQTT 3.1.1 §3.1.2.5: the broker publishes the will when the agent vanishes (kill, link loss).
    will: {
      topic: deviceTopic.status(id),
      payload: Buffer.from(JSON.stringify({ online: false, fw: cfg.device.fw })),
      qos: 1,
      retain: true,
    },
    ...(cfg.mqtt.ca_file ? { ca: readFileSync(cfg.mqtt.ca_file) } : {}),
  }
  const client: MqttClient = mqtt.connect(cfg.mqtt.url, opts)

  const publish = (topic: string, payload: string, o: { qos: 0 | 1; retain?: boolean }, timeoutMs = cfg.mqtt.ack_timeout_ms) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no PUBACK within ${timeoutMs} ms`)), timeoutMs)
      client.publish(topic, payload, { qos: o.qos, retain: o.retain ?? false }, (err) => {
        clearTimeout(timer)
        if (err) reject(err)
        else resolve()
      })
    })

  const publishStatus = () => {
    if (!client.connected) return
    publish(deviceTopic.status(id), JSON.stringify(statusPayload(true)), { qos: 1, retain: true }).catch((err) =>
      log.debug({ err }, 'status not acknowledged'),
    )
  }

  let pumping = false
  let pumpAgain = false
  const pump = async (): Promise<void> => {
    if (pumping) {
      pumpAgain = true
      return
    }
    pumping = true
    try {
      do {
        pumpAgain = false
        while (client.connected && !stopped) {
          const batch = queue.peek(cfg.queue.batch_size)
          if (batch.length === 0) break
          const body = batch.length === 1 ? toReading(batch[0]!) : batch.map(toReading)
          await publish(deviceTopic.telemetry(id), JSON.stringify(body), { qos: 1 })
          queue.ack(batch.map((r) => r.id))
          sent += batch.length
        }
      } while (pumpAgain && client.connected && !stopped)
    } catch (err) {
      // The readings stay on disk; they go again, in order, once the link is back.
      log.warn({ err, depth: queue.stats().depth }, 'forwarding paused')
      if (!stopped && client.connected) {
        // A PUBACK that never comes means a half-open link: reconnect rather than wait for keepalive.
        client.stream?.destroy()
      }
    } finally {
      pumping = false
    }
  }

  const sample = async (): Promise<QueuedReading | undefined> => {
    const at = Date.now()
    let values: Record<string, number>
    try {
      values = await driver.read(at)
    } catch (err) {
      driverErrors++
      log.warn({ err }, 'driver read failed')
      return undefined
    }
    const r = queue.push(at, values)
    void pump()
    return r
  }

  let timer: NodeJS.Timeout | undefined
  let next = Date.now()
  const schedule = () => {
    if (stopped) return
    next += intervalS * 1000
    const now = Date.now()
    // After a long pause (laptop sleep, interval change) restart the grid instead of catching up.
    if (next < now) next = now
    timer = setTimeout(async () => {
      await sample()
      schedule()
    }, next - now)
  }

  const onConfig = (payload: Buffer) => {
    let doc: unknown
    try {
      doc = JSON.parse(payload.toString('utf8'))
    } catch {
      log.warn('config is not JSON; ignored')
      return
    }
    if (!checkConfig.Check(doc)) {
      log.warn('config does not match {"interval_s"}; ignored')
      return
    }
    const c = doc as DeviceConfig
    if (c.interval_s !== undefined && c.interval_s !== intervalS) {
      intervalS = c.interval_s
      queue.setMeta('interval_s', String(intervalS))
      log.info({ interval_s: intervalS }, 'sampling interval changed')
      if (timer) clearTimeout(timer)
      next = Date.now()
      schedule()
      publishStatus()
    }
  }

  const onCommand = async (payload: Buffer) => {
    let cmd: DeviceCommand | undefined
    try {
      const doc: unknown = JSON.parse(payload.toString('utf8'))
      if (checkCommand.Check(doc)) cmd = doc as DeviceCommand
    } catch {
      // answered below
    }
    const ack: CommandAck = { id: cmd?.id ?? null, cmd: cmd?.cmd ?? '', ok: false, ts: new Date().toISOString() }
    if (!cmd) ack.error = 'command must be JSON {"id"?, "cmd", "args"?}'
    else if (cmd.cmd === 'ping') {
      ack.ok = true
      ack.result = { pong: true, uptime: Math.round((Date.now() - started) / 1000) }
    } else if (cmd.cmd === 'read-now') {
      const r = await sample()
      ack.ok = r !== undefined
      if (r) ack.result = { seq: r.seq, ts: r.ts, values: r.values }
      else ack.error = 'the sensor could not be read; see the agent log'
    } else if (cmd.cmd === 'status') {
      ack.ok = true
      ack.result = statusPayload(true)
    } else ack.error = `unknown command "${cmd.cmd}"; known: ping, read-now, status`
    publish(deviceTopic.cmdAck(id), JSON.stringify(ack), { qos: 1 }).catch((err) => log.debug({ err }, 'cmd/ack not acknowledged'))
  }

  client.on('connect', () => {
    log.info({ url: cfg.mqtt.url, depth: queue.stats().depth }, 'connected')
    client.subscribe([deviceTopic.config(id), deviceTopic.cmd(id)], { qos: 1 }, (err) => {
      if (err) log.warn({ err }, 'subscribe refused')
    })
    publishStatus()
    void pump()
  })
  client.on('message', (topic, payload) => {
    if (topic === deviceTopic.config(id)) onConfig(payload)
    else if (topic === deviceTopic.cmd(id)) void onCommand(payload)
  })
  client.on('error', (err) => log.warn({ err }, 'mqtt error'))
  client.on('offline', () => log.info({ depth: queue.stats().depth }, 'offline; readings stay on disk'))

  const statusTimer = setInterval(publishStatus, cfg.status_interval_s * 1000)
  const pumpTimer = setInterval(() => void pump(), 1000)
  await sample()
  schedule()

  return {
    readNow: sample,
    stats: () => ({ ...queue.stats(), sent, driverErrors, intervalS, connected: client.connected }),
    async stop() {
      if (stopped) return
      stopped = true
      if (timer) clearTimeout(timer)
      clearInterval(statusTimer)
      clearInterval(pumpTimer)
      if (client.connected) {
        await publish(deviceTopic.status(id), JSON.stringify(statusPayload(false)), { qos: 1, retain: true }, 2000).catch(() => {})
      }
      await client.endAsync().catch(() => {})
      await driver.close().catch(() => {})
      queue.close()
    },
  }
}
