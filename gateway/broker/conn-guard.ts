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

/**
 * A socket counted toward the total, its pre-CONNECT timer running, whose client address is not
 * known yet (a PROXY protocol header names it, proxy-header.ts).
 */
export interface HeldSocket {
  /** Header bytes received; counted like any byte before CONNACK. False when that closed the socket. */
  received(bytes: number): boolean
  /** The client's address is known: the per-address cap applies. Undefined when refused (and destroyed). */
  admit(address: string): Admission | undefined
}

export interface ConnectionGuard {
  /** Called for every accepted socket; undefined when it was refused (and destroyed). */
  admit(socket: Socket): Admission | undefined
  /** Like admit, for a socket whose client address comes later; undefined when refused (and destroyed). */
  hold(socket: Socket): HeldSocket | undefined
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

  function hold(socket: Socket): HeldSocket | undefined {
    /** Until the client address is known, refusals name the connection's own. */
    let address = socket.remoteAddress ?? 'unknown'
    if (sockets >= limits.maxTotal) return refuse(socket, 'total_limit', address)
    sockets++
    let counted = false
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      sockets--
      if (!counted) return
      const n = (perAddress.get(address) ?? 1) - 1
      if (n <= 0) perAddress.delete(address)
      else perAddress.set(address, n)
    }

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
    /** False when these bytes closed the socket. */
    const count = (n: number): boolean => {
      if (bytes < 0) return false
      bytes += n
      preAuthBytes += n
      if (bytes > limits.maxPreAuthBytes) refuse(socket, 'preauth_bytes', address)
      else if (preAuthBytes > limits.preAuthBudgetBytes) refuse(socket, 'preauth_budget', address)
      else return true
      return false
    }
    socket.once('close', () => {
      stopPreAuth()
      release()
    })
    const admission: Admission = {
      watchBytes(stream) {
        if (bytes < 0 || watched) return
        const onData = (chunk: Buffer): void => void count(chunk.length)
        watched = { stream, onData }
        stream.on('data', onData)
      },
      connacked: stopPreAuth,
    }
    return {
      received: count,
      admit(clientAddress) {
        if (bytes < 0 || released) return undefined
        address = clientAddress
        const held = perAddress.get(address) ?? 0
        if (held >= limits.maxPerAddress) {
          // Released now, not on 'close': the socket no longer counts toward the total either.
          stopPreAuth()
          release()
          return refuse(socket, 'address_limit', address)
        }
        perAddress.set(address, held + 1)
        counted = true
        return admission
      },
    }
  }

  return {
    admit: (socket) => hold(socket)?.admit(socket.remoteAddress ?? 'unknown'),
    hold,
    stats: () => ({ sockets, addresses: perAddress.size, preAuthBytes }),
  }
}
