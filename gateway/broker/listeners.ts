// Network listeners for the broker: MQTT over TCP, over WebSocket (at a path) and over TLS. With
// `mqtt.proxyProtocol` the TCP and TLS ones read a PROXY protocol header first (proxy-socket.ts).
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket, createSecureContext, createServer as createTlsServer } from 'node:tls'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { IncomingMessage } from 'node:http'
import type { Admission, ConnectionGuard } from './conn-guard.ts'
import { presentAs, readProxyHeader, type ProxyRefused } from './proxy-socket.ts'
import type { BrokerConfig } from './types.ts'

/** Largest WebSocket message accepted: a 2 MiB frame (docs/mqtt.md) plus MQTT framing and topic. */
const WS_MAX_PAYLOAD = 2 * 1024 * 1024 + 64 * 1024

type Handle = (stream: Duplex, req: IncomingMessage | undefined, admission: Admission) => void

export interface Listener {
  name: string
  port: number
  /** Stop accepting; resolves once every connection is gone. */
  close(): Promise<void>
  /** Destroy connections still open (ones that never sent CONNECT, for instance). */
  destroyAll(): void
}

/** One line a person can act on, not a stack trace. */
function listenError(name: string, port: number, err: NodeJS.ErrnoException): Error {
  if (err.code === 'EADDRINUSE') return new Error(`${name} port ${port} is already in use`)
  if (err.code === 'EACCES') return new Error(`${name} port ${port} needs privileges this process does not have`)
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${name}: address not available on this host (${err.message})`)
  return new Error(`${name} could not listen on port ${port}: ${err.message}`)
}

function listenOn(server: NetServer | HttpServer, name: string, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(name, port, err))
    server.once('error', onError)
    server.listen(port, host, () => {
      server.removeListener('error', onError)
      const addr = server.address()
      resolve(addr !== null && typeof addr === 'object' ? addr.port : port)
    })
  })
}

/**
 * TCP keepalive on every MQTT connection. A client may ask for no MQTT keepalive at all (0,
 * MQTT-3.1.2-23) and 3.1.1 gives the server no way to impose one; without TCP probes the session of
 * a device whose link died without a FIN (power cut, cellular drop) would stay open, holding its
 * client id and keeping its will from being sent, until the process restarts.
 */
const TCP_KEEPALIVE_MS = 60_000

/** Set on a listener when every connection comes from a load balancer that sends a PROXY header. */
export interface ProxyProtocol {
  /** Hears each connection closed for a missing or invalid header. */
  refused: ProxyRefused
}

/**
 * Every socket of a listener: TCP keepalive on, admitted by the guard (refused ones are destroyed
 * at once), and kept for destroyAll. `admitted` hears each one the guard let in. With `proxy`, the
 * guard holds the socket (its timer and byte limits running) until the header names the client,
 * then admits it under that address; the socket then reports it as its `remoteAddress`.
 */
function track(
  server: NetServer | HttpServer,
  guard: ConnectionGuard,
  admitted: (s: Socket, a: Admission) => void,
  proxy?: ProxyProtocol,
): Set<Socket> {
  const sockets = new Set<Socket>()
  const keep = (s: Socket): void => {
    s.setKeepAlive(true, TCP_KEEPALIVE_MS)
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  }
  server.on('connection', (s: Socket) => {
    if (!proxy) {
      const admission = guard.admit(s)
      if (!admission) return
      keep(s)
      admitted(s, admission)
      return
    }
    const held = guard.hold(s)
    if (!held) return
    keep(s)
    readProxyHeader(s, held, proxy.refused, (client) => {
      presentAs(s, client)
      const admission = held.admit(client.address)
      if (admission) admitted(s, admission)
    })
  })
  return sockets
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

async function netListener(name: string, server: NetServer, host: string, port: number, sockets: Set<Socket>): Promise<Listener> {
  const actual = await listenOn(server, name, host, port)
  return {
    name,
    port: actual,
    close: () => closeServer(server),
    destroyAll: () => {
      for (const s of sockets) s.destroy()
    },
  }
}

export function tcpListener(handle: Handle, guard: ConnectionGuard, host: string, port: number, proxy?: ProxyProtocol): Promise<Listener> {
  // No Nagle delay: CONNACK and PUBACK are small and latency-bound.
  const server = createNetServer({ noDelay: true })
  const sockets = track(server, guard, (socket, admission) => handle(socket, undefined, admission), proxy)
  return netListener('MQTT', server, host, port, sockets)
}

export function tlsListener(
  handle: Handle,
  guard: ConnectionGuard,
  host: string,
  port: number,
  tls: NonNullable<BrokerConfig['tls']>,
  connectTimeoutMs: number,
  proxy?: ProxyProtocol,
): Promise<Listener> {
  let cert: Buffer
  let key: Buffer
  try {
    cert = readFileSync(tls.cert)
    key = readFileSync(tls.key)
  } catch (err) {
    return Promise.reject(new Error(`MQTT TLS: cannot read certificate or key (${(err as Error).message})`))
  }
  if (proxy) return proxiedTlsListener(handle, guard, host, port, cert, key, proxy)
  // The handshake counts against the same pre-CONNECT time (Node's default allows 120 s).
  const server = createTlsServer({ cert, key, handshakeTimeout: connectTimeoutMs })
  // The TLS socket of a connection has the address and port of the TCP socket the guard admitted.
  const pending = new Map<string, Admission>()
  const keyOf = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`
  const sockets = track(server, guard, (raw, admission) => {
    const k = keyOf(raw)
    pending.set(k, admission)
    raw.once('close', () => pending.delete(k))
  })
  server.on('secureConnection', (socket: Socket) => {
    const k = keyOf(socket)
    const admission = pending.get(k)
    pending.delete(k)
    if (!admission) return socket.destroy()
    handle(socket, undefined, admission)
  })
  return netListener('MQTT TLS', server, host, port, sockets)
}

/**
 * TLS behind a balancer in TCP passthrough: the PROXY header comes before the TLS bytes, so the
 * TLS socket is made on each connection once its header is read (a tls.Server would take the
 * header for a ClientHello). The handshake runs under the guard's pre-CONNECT timer.
 */
function proxiedTlsListener(
  handle: Handle,
  guard: ConnectionGuard,
  host: string,
  port: number,
  cert: Buffer,
  key: Buffer,
  proxy: ProxyProtocol,
): Promise<Listener> {
  let secureContext: ReturnType<typeof createSecureContext>
  try {
    secureContext = createSecureContext({ cert, key })
  } catch (err) {
    return Promise.reject(new Error(`MQTT TLS: certificate or key not usable (${(err as Error).message})`))
  }
  const server = createNetServer({ noDelay: true })
  const sockets = track(
    server,
    guard,
    (raw, admission) => {
      // The bytes after the header are still buffered in `raw`; TLSSocket reads them first.
      const socket = new TLSSocket(raw, { isServer: true, secureContext })
      presentAs(socket, { address: raw.remoteAddress ?? 'unknown', port: raw.remotePort })
      // A failed handshake is the client's problem; aedes listens for errors once it has the socket.
      socket.on('error', () => socket.destroy())
      socket.once('secure', () => handle(socket, undefined, admission))
    },
    proxy,
  )
  return netListener('MQTT TLS', server, host, port, sockets)
}

export async function wsListener(
  handle: Handle,
  guard: ConnectionGuard,
  host: string,
  port: number,
  path: string,
  connectTimeoutMs: number,
): Promise<Listener> {
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: upgrade at ${path}\n`)
  })
  // Node's HTTP defaults let a socket that never sends its upgrade request live 60 s plus up to
  // 30 s until the next check: idle WebSocket sockets lived ~85 s against 10 s on TCP. The guard
  // closes every socket without CONNACK after `mqtt.connectTimeoutMs`; these match it.
  http.headersTimeout = connectTimeoutMs
  http.requestTimeout = connectTimeoutMs
  const admissions = new WeakMap<Socket, Admission>()
  const sockets = track(http, guard, (s, admission) => admissions.set(s, admission))
  // MQTT over WebSocket uses the `mqtt` subprotocol (MQTT 3.1.1 clause 6); ws picks the first offered.
  const wss = new WebSocketServer({ server: http, path, maxPayload: WS_MAX_PAYLOAD })
  // ws repeats its HTTP server's errors on itself; unheard, a port in use ended the process with a
  // stack trace. listenOn reports the listen error in one line, and the HTTP server's later errors
  // are its sockets', which the guard and aedes handle.
  wss.on('error', () => undefined)
  wss.on('connection', (ws, req) => {
    const admission = admissions.get(req.socket)
    if (!admission) return ws.terminate()
    const stream = createWebSocketStream(ws)
    // A socket reset shows as an error on the stream; aedes handles the close.
    stream.on('error', () => {})
    handle(stream, req, admission)
  })
  const actual = await listenOn(http, 'MQTT WebSocket', host, port)
  return {
    name: 'MQTT WebSocket',
    port: actual,
    close: async () => {
      wss.close()
      const closed = closeServer(http)
      http.closeIdleConnections()
      await closed
    },
    destroyAll: () => {
      for (const c of wss.clients) c.terminate()
      for (const s of sockets) s.destroy()
    },
  }
}
