// The connection limits of docs/operations.md "Connections and logins", resolved from the `mqtt`
// section with their defaults (gateway/config/sections.ts documents the same values).
import type { Logger } from '../log/logger.ts'
import { defaultMaxConnections, openFileLimit } from './conn-guard.ts'
import type { BrokerMetrics } from './metrics.ts'
import type { BrokerConfig } from './types.ts'

export interface ConnectionLimits {
  maxConnectBytes: number
  preAuthBudgetBytes: number
  maxConnectionsPerAddress: number
  maxConnections: number
  connectTimeoutMs: number
  packetTimeoutMs: number
}

export function connectionLimits(config: BrokerConfig): ConnectionLimits {
  return {
    maxConnectBytes: config.maxConnectBytes ?? 64 * 1024,
    preAuthBudgetBytes: config.preAuthBudgetBytes ?? 16 * 1024 * 1024,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress ?? 500,
    // Unset: what the process's open-file limit leaves room for.
    maxConnections: config.maxConnections ?? defaultMaxConnections(openFileLimit()),
    connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
    packetTimeoutMs: config.packetTimeoutMs ?? 30_000,
  }
}

/**
 * Counts a connection closed by a limit in `mqtt_connections_closed_total{reason}`. The log line
 * comes at most once a minute per reason: a flood of refused connections must not flood the log.
 */
export function limitCloser(m: BrokerMetrics, log: Logger, limits: ConnectionLimits): (reason: string, address: string) => void {
  const logged = new Map<string, number>()
  return (reason, address) => {
    m.connectionsClosed.inc({ reason })
    const now = Date.now()
    if ((logged.get(reason) ?? 0) > now - 60_000) return
    logged.set(reason, now)
    log.warn(
      { event: 'mqtt_connection_limit', reason, address, limits },
      'MQTT connection closed by a limit (logged once a minute per reason; see mqtt_connections_closed_total)',
    )
  }
}
