// An MQTT CONNECT from a chosen loopback address (Linux routes all of 127.0.0.0/8 to lo), over TCP
// or TLS, optionally after bytes of our own (a PROXY header, whole or in pieces): what a device
// behind HAProxy, or a client bypassing it, sends.
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import mqttPacket from 'mqtt-packet'

export interface ConnectResult {
  /** CONNACK return code; undefined when the socket closed without one. */
  connack: number | undefined
  /** The socket, still open after CONNACK 0 (the caller ends it). */
  socket: Socket
}

export interface ConnectOptions {
  port: number
  /** Source address of the connection (default 127.0.0.1). */
  from?: string
  tls?: boolean
  username: string
  password: string
  clientId?: string
  /** Written before the CONNECT, one chunk each, `gapMs` apart. */
  before?: Buffer[]
  gapMs?: number
  /** Write `before` and the CONNECT as one buffer (they then arrive in one segment). */
  glued?: boolean
  /** Give up waiting for an answer after this long (the socket is then destroyed). */
  waitMs?: number
}

export function connectBytes(username: string, password: string, clientId = ''): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId,
    username,
    password: Buffer.from(password),
  })
}

/** Sends the CONNECT (after `before`) and resolves with the CONNACK code or the close. */
export function mqttConnect(o: ConnectOptions): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const opts = { host: '127.0.0.1', port: o.port, localAddress: o.from ?? '127.0.0.1' }
    const send = async (): Promise<void> => {
      if (o.glued) {
        socket.write(Buffer.concat([...(o.before ?? []), connectBytes(o.username, o.password, o.clientId)]))
        return
      }
      for (const chunk of o.before ?? []) {
        if (socket.destroyed) return
        socket.write(chunk)
        if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs))
      }
      if (!socket.destroyed) socket.write(connectBytes(o.username, o.password, o.clientId))
    }
    const socket: Socket = o.tls
      ? tlsConnect({ ...opts, rejectUnauthorized: false }, () => void send())
      : netConnect(opts, () => void send())
    let done = false
    const finish = (connack: number | undefined): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (connack !== 0) socket.destroy()
      resolve({ connack, socket })
    }
    const timer = setTimeout(() => finish(undefined), o.waitMs ?? 10_000)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') finish(p.returnCode ?? -1)
    })
    socket.on('data', (b: Buffer) => parser.parse(b))
    socket.on('error', () => finish(undefined))
    socket.on('close', () => finish(undefined))
  })
}
