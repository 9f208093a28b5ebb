// Reading the PROXY protocol header (proxy-header.ts) off a new socket before any MQTT or TLS
// byte, under the same pre-CONNECT limits as those bytes (conn-guard.ts HeldSocket): a client
// that never finishes its header is closed by `mqtt.connectTimeoutMs` like one that never sends
// CONNECT.
import { isIP, type Socket } from 'node:net'
import type { HeldSocket } from './conn-guard.ts'
import { parseProxyHeader, type ProxyHeaderRefusal } from './proxy-header.ts'

/** Hears every connection closed for its header: the reason, the balancer's address, what was wrong. */
export type ProxyRefused = (reason: ProxyHeaderRefusal, address: string, detail: string) => void

export interface ProxiedClient {
  address: string
  port?: number | undefined
}

/**
 * Makes `socket` report the client's address instead of the balancer's. Everything after the
 * listener reads `remoteAddress` off the stream it is given (aedes' `client.conn`, the CONNECT
 * steps, the protocol-level refusal), so this is the one place that needs to know about the header.
 */
export function presentAs(socket: Socket, client: ProxiedClient): void {
  Object.defineProperty(socket, 'remoteAddress', { value: client.address, configurable: true })
  Object.defineProperty(socket, 'remoteFamily', { value: isIP(client.address) === 6 ? 'IPv6' : 'IPv4', configurable: true })
  if (client.port !== undefined) Object.defineProperty(socket, 'remotePort', { value: client.port, configurable: true })
}

/**
 * Reads the header, then calls `done` with the socket paused and the bytes after the header put
 * back, for the MQTT reader (or TLS) to take. A socket whose first bytes are no valid header is
 * told `refused` and destroyed before anything reads them.
 */
export function readProxyHeader(socket: Socket, held: HeldSocket, refused: ProxyRefused, done: (client: ProxiedClient) => void): void {
  const own = socket.remoteAddress ?? 'unknown'
  const chunks: Buffer[] = []
  let total = 0
  /** Bytes to wait for before parsing again: a v2 header gives its length, so a slow sender costs no re-parse per chunk. */
  let needed = 1
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk)
    total += chunk.length
    if (total < needed) {
      held.received(chunk.length)
      return
    }
    const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks, total)
    chunks.length = 0
    chunks.push(buf)
    const r = parseProxyHeader(buf)
    if (r.kind === 'incomplete') {
      needed = r.needed ?? total + 1
      held.received(chunk.length)
      return
    }
    stop()
    if (r.kind === 'refused') {
      refused(r.reason, own, r.detail)
      socket.destroy()
      return
    }
    // Every earlier chunk was header and already counted; of this one, only its header part.
    if (!held.received(r.headerBytes - (total - chunk.length))) return
    socket.pause()
    if (buf.length > r.headerBytes) socket.unshift(buf.subarray(r.headerBytes))
    done(r.address === undefined ? { address: own } : { address: r.address, port: r.port })
  }
  const stop = (): void => {
    socket.removeListener('data', onData)
    socket.removeListener('close', stop)
  }
  socket.on('data', onData)
  socket.once('close', stop)
  // A reset while the header is read must not be an uncaught error; 'close' follows and cleans up.
  // Kept afterwards: under TLS nothing else listens on this (outer) socket.
  socket.on('error', () => {})
}
