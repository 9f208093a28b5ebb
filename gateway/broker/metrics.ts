import type { Metrics } from '../metrics/registry.ts'

/** The broker's Prometheus metrics (all `iocgw_` prefixed by Metrics). */
export function brokerMetrics(metrics: Metrics) {
  const messagesIn = metrics.counter('mqtt_messages_in_total', 'Device messages accepted by the ACL, by kind of topic', ['topic'])
  return {
    connects: metrics.counter('mqtt_connects_total', 'MQTT connections accepted, by kind of client', ['kind']),
    connectRefused: metrics.counter('mqtt_connect_refused_total', 'MQTT CONNECTs refused, by reason', ['reason']),
    publishRefused: metrics.counter('mqtt_publish_refused_total', 'MQTT PUBLISHes refused by the topic ACL, by reason', ['reason']),
    subscribeRefused: metrics.counter('mqtt_subscribe_refused_total', 'MQTT SUBSCRIBE filters refused (SUBACK 0x80), by reason', [
      'reason',
    ]),
    forwardRefused: metrics.counter('mqtt_forward_refused_total', 'Deliveries withheld from a subscriber by the ACL', ['reason']),
    /** Device messages in, for one kind of topic; counted per message, so summed locally (Metrics.hotCounter). */
    messagesInOf: (topic: string) => metrics.hotCounter(messagesIn, { topic }),
    handlerFailures: metrics.counter(
      'mqtt_publish_handler_failures_total',
      'Device messages whose handler failed transiently (not acknowledged; the client resends)',
      ['topic'],
    ),
    handlerSeconds: metrics.hotHistogram(
      'mqtt_publish_handler_seconds',
      'Time from a device PUBLISH passing the ACL to its handler resolving (before PUBACK)',
      ['topic'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
    revocationKicks: metrics.counter('mqtt_revocation_kicks_total', 'Live sessions closed because a device was revoked', ['reason']),
    gatewayOffline: metrics.counter(
      'mqtt_gateway_offline_status_total',
      'Offline statuses the gateway published for devices that left without a will',
    ),
    queueDropped: metrics.counter(
      'mqtt_queue_dropped_total',
      'QoS 1 messages dropped from a full persistent-session queue (mqtt.maxQueuedMessages), oldest first',
    ),
    statusNotRetained: metrics.counter(
      'mqtt_status_not_retained_total',
      'Device statuses (and wills) not kept retained nor delivered because they are not a valid status, by reason',
      ['reason'],
    ),
    connectionsClosed: metrics.counter(
      'mqtt_connections_closed_total',
      'MQTT sockets refused or closed by a connection limit, by reason (address_limit, total_limit, connect_timeout, preauth_bytes, preauth_budget, packet_timeout)',
      ['reason'],
    ),
    proxyHeaderRefused: metrics.counter(
      'mqtt_proxy_header_refused_total',
      'MQTT connections closed for a missing or invalid PROXY protocol header (mqtt.proxyProtocol), by reason (missing, malformed, unsupported)',
      ['reason'],
    ),
    oversize: metrics.counter('mqtt_oversize_packets_total', 'MQTT packets refused for declaring more than the size limit'),
    connected: metrics.gauge('mqtt_connected_clients', 'MQTT clients connected now, by kind', ['kind']),
  }
}

export type BrokerMetrics = ReturnType<typeof brokerMetrics>
