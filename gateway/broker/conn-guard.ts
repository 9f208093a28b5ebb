// Limits on MQTT connections, at the socket, before the MQTT parser sees a byte: how many one
// address may hold, how many all may hold (below the process's file-descriptor limit, so the HTTP
// API, the stores and the log keep theirs), how long a socket may stay without a CONNACK and how
// many bytes it may send before one, alone and all together.
// Without them 19,990 idle WebSocket sockets from one address took every descriptor and /healthz
// and real devices were refused, and 400 half-sent CONNECTs held over 600 MB.
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'

/** Why the guard closed or refused a socket (the `reason` label of `mqtt_connections_closed_total`). */
export type GuardReason = 'address_limit' | 'total_limit' | 'connect_timeout' | 'preauth_bytes' | 'preauth_budget'

export interface GuardLimits {
  /** Sockets one address may hold (`mqtt.maxConnectionsPerAddress`). NAT'd field routers put many devices behind one. */
  maxPerAddress: number
  /** Sockets all MQTT listeners may hold together (`mqtt.maxConnections`). */
  maxTotal: number
  /** A socket without CONNACK after this long is closed (`mqtt.connectTimeoutMs`), WebSocket upgrade included. */
  connectTimeoutMs: number
  /** Bytes one socket may send before its CONNACK (`mqtt.maxConnectBytes`). */
  maxPreAuthBytes: number
  /** Bytes all sockets without CONNACK may have sent together (`mqtt.preAuthBudgetBytes`). */
  preAuthBudgetBytes: number
}

/** One admitted socket. */
export interface Admission {
  /**
   * Starts counting the bytes `stream` delivers before CONNACK (the socket itself, or the
   * decrypted side of a TLS socket). Called once the MQTT reader is attached: a `data` listener
   * added before aedes' `readable` one would take the bytes from it.
   */
  watchBytes(stream: Socket): void
  /** The client got its CONNACK: no more pre-CONNECT timer nor byte counting. */
  connacked(): void
}

export interface ConnectionGuard {
  /** Called for every accepted socket; undefined when it was refused (and destroyed). */
  admit(socket: Socket): Admission | undefined
  /** Sockets held now, and bytes received by sockets without CONNACK. */
  stats(): { sockets: number; addresses: number; preAuthBytes: number }
}

/** Descriptors kept for everything that is not an MQTT socket: the API, stores, log, model files. */
export const RESERVED_FDS_MIN = 1024

/** The soft limit on open files of this process (Linux /proc), undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (!m || m[1] === 'unlimited') return undefined
    return Number(m[1])
  } catch {
    return undefined
  }
}

/**
 * `mqtt.maxConnections` when unset: the open-file limit less a tenth of it (at least 1,024) for
 * the rest of the gateway; 10,000 when the limit cannot be read.
 */
export function defaultMaxConnections(limit: number | undefined): number {
  if (limit === undefined) return 10_000
  return Math.max(64, limit - Math.max(RESERVED_FDS_MIN, Math.ceil(limit / 10)))
}

export function createConnectionGuard(limits: GuardLimits, closed: (reason: GuardReason, address: string) => void): ConnectionGuard {
  const perAddress = new Map<string, number>()
  let sockets = 0
  let preAuthBytes = 0

  function refuse(socket: Socket, reason: GuardReason, address: string): undefined {
    closed(reason, address)
    socket.destroy()
    return undefined
  }

  return {
    admit(socket) {
      const address = socket.remoteAddress ?? 'unknown'
      const held = perAddress.get(address) ?? 0
      if (sockets >= limits.maxTotal) return refuse(socket, 'total_limit', address)
      if (held >= limits.maxPerAddress) return refuse(socket, 'address_limit', address)
      perAddress.set(address, held + 1)
      sockets++

      /** Bytes received before CONNACK; -1 once connacked or closed. */
      let bytes = 0
      let watched: { stream: Socket; onData: (chunk: Buffer) => void } | undefined
      let timer: NodeJS.Timeout | undefined = setTimeout(() => {
        timer = undefined
        refuse(socket, 'connect_timeout', address)
      }, limits.connectTimeoutMs)
      timer.unref()
      const stopPreAuth = (): void => {
        if (timer) clearTimeout(timer)
        timer = undefined
        if (watched) watched.stream.removeListener('data', watched.onData)
        watched = undefined
        if (bytes > 0) preAuthBytes -= bytes
        bytes = -1
      }
      socket.once('close', () => {
        stopPreAuth()
        sockets--
        const n = (perAddress.get(address) ?? 1) - 1
        if (n <= 0) perAddress.delete(address)
        else perAddress.set(address, n)
      })
      return {
        watchBytes(stream) {
          if (bytes < 0 || watched) return
          const onData = (chunk: Buffer): void => {
            if (bytes < 0) return
            bytes += chunk.length
            preAuthBytes += chunk.length
            if (bytes > limits.maxPreAuthBytes) refuse(socket, 'preauth_bytes', address)
            else if (preAuthBytes > limits.preAuthBudgetBytes) refuse(socket, 'preauth_budget', address)
          }
          watched = { stream, onData }
          stream.on('data', onData)
        },
        connacked: stopPreAuth,
      }
    },
    stats: () => ({ sockets, addresses: perAddress.size, preAuthBytes }),
  }
}
