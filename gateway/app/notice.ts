import type { BrokerPorts } from '../broker/types.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { timeSeriesLine } from '../store/health.ts'

const shown = (h: string) => (h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h)

/** The start-up notice: where the gateway listens and keeps its data, one text written at once. */
export function listeningNotice(config: GatewayConfig, ports: { http: number } & BrokerPorts, visionOff: boolean): string {
  const web = `${config.http.tls ? 'https' : 'http'}://${shown(config.http.host)}:${ports.http}`
  const mqttHost = shown(config.mqtt.host)
  return [
    `ioc-gateway listening:`,
    `  Console    ${web}/`,
    `  HTTP API   ${web}/api/v1  (OpenAPI: /docs, health: /healthz)`,
    `  MQTT       mqtt://${mqttHost}:${ports.mqtt}`,
    ...(ports.tls ? [`  MQTT/TLS   mqtts://${mqttHost}:${ports.tls}`] : []),
    `  MQTT/WS    ws://${mqttHost}:${ports.ws}${config.mqtt.wsPath}`,
    `  data       ${config.server.dataDir} (time series: ${timeSeriesLine(config.influx)})`,
    ...(visionOff ? ['  vision     OFF: model files missing; run `iocgw models fetch`, then restart'] : []),
  ].join('\n')
}

export const NO_USER_NOTICE =
  'No console user yet: create the first admin on this host with `IOC_TOKEN=<admin token> iocgw user add <name> --role admin` (asks for the password; there is no default).'
