// Raw connections for what mqtt.js refuses to send (a hand-built CONNECT on a TCP socket), and watching a connection close.
import type { EventEmitter } from 'node:events'
import { connect } from 'node:net'
import mqttPacket from 'mqtt-packet'

export interface RawAnswer {
  /** Every byte the broker sent before closing. */
  bytes: Buffer
  /** The CONNACK return code, when the first packet was a CONNACK. */
  connack: number | undefined
  /** The broker closed the connection (within the wait). */
  closed: boolean
}

/** A v3.1.1 CONNECT with these fields, as bytes (level patched by callers when needed). */
export function connectBytes(o: {
  clientId: string
  clean: boolean
  username?: string
  password?: string
  protocolVersion?: 3 | 4 | 5
}): Buffer {
  const v = o.protocolVersion ?? 4
  // mqtt-packet will not generate clean session 0 with an empty id: made clean, then flipped.
  const flip = !o.clean && o.clientId === ''
  const bytes = mqttPacket.generate({
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clean: o.clean || flip,
    clientId: o.clientId,
    keepalive: 30,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: Buffer.from(o.password) } : {}),
  })
  if (flip) bytes[flagsIndex(bytes)]! &= ~0x02
  return bytes
}

/** Offset of the protocol level byte: fixed header, remaining length, protocol name. */
export function levelIndex(bytes: Buffer): number {
  let i = 1
  while (bytes[i]! & 0x80) i++
  i++
  return i + 2 + bytes.readUInt16BE(i)
}

function flagsIndex(bytes: Buffer): number {
  return levelIndex(bytes) + 1
}

/** Sends `bytes` and collects the answer until the broker closes (or `waitMs`). */
export function rawExchange(port: number, bytes: Buffer, waitMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.write(bytes))
    const finish = (closed: boolean): void => {
      clearTimeout(timer)
      s.destroy()
      const all = Buffer.concat(chunks)
      resolve({ bytes: all, connack: all[0] === 0x20 && all.length >= 4 ? all[3] : undefined, closed })
    }
    const timer = setTimeout(() => finish(false), waitMs)
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('close', () => finish(true))
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? finish(true) : reject(err)))
  })
}

/** A raw MQTT connection that records the packets the broker sends. */
export interface RawClient {
  send(packet: mqttPacket.Packet): void
  /** Resolves with the first received packet (from the start) that matches. */
  next(match: (p: mqttPacket.Packet) => boolean, waitMs?: number): Promise<mqttPacket.Packet>
  destroy(): void
}

export function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const got: mqttPacket.Packet[] = []
    const waiters: Array<() => void> = []
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      got.push(p)
      for (const w of waiters.splice(0)) w()
    })
    const s = connect(port, '127.0.0.1', () =>
      resolve({
        send: (p) => s.write(mqttPacket.generate(p)),
        next: (match, waitMs = 5000) =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error('no matching packet from the broker')), waitMs)
            const look = (): void => {
              const hit = got.find(match)
              if (hit) {
                clearTimeout(timer)
                res(hit)
              } else waiters.push(look)
            }
            look()
          }),
        destroy: () => s.destroy(),
      }),
    )
    s.on('data', (d: Buffer) => parser.parse(d))
    s.on('error', reject)
  })
}

/** Whether `conn` (a socket or a WebSocket) has closed, and when; its errors are expected and ignored. */
export function watchClose(conn: EventEmitter): { closed: () => boolean; gone: Promise<void> } {
  let closed = false
  const gone = new Promise<void>((r) =>
    conn.on('close', () => {
      closed = true
      r()
    }),
  )
  conn.on('error', () => {})
  return { closed: () => closed, gone }
}
