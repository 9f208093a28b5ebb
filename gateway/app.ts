// Builds and starts the gateway process: one place that wires the capabilities together, in the
// order their dependencies point (registry → store → ingest → broker → api).
import { mkdirSync, readFileSync } from 'node:fs'
import { buildApi, withDeps } from './api/server.ts'
import { deviceRoutes } from './api/routes/devices.ts'
import { alertRoutes } from './api/routes/alerts.ts'
import { deviceControlRoutes } from './api/routes/device-control.ts'
import { eventRoutes } from './api/routes/events.ts'
import { notificationRoutes } from './api/routes/notifications.ts'
import { exportRoutes } from './api/routes/exports.ts'
import { notifyRoutes } from './api/routes/notify.ts'
import { readingsRoutes } from './api/routes/readings.ts'
import { reportRoutes } from './api/routes/reports.ts'
import { stationRoutes } from './api/routes/stations.ts'
import { rejectRoutes } from './api/routes/rejects.ts'
import { ruleRoutes } from './api/routes/rules.ts'
import { subscriptionRoutes } from './api/routes/subscriptions.ts'
import { tokenRoutes } from './api/routes/tokens.ts'
import { userRoutes } from './api/routes/users.ts'
import { webhookRoutes } from './api/routes/webhooks.ts'
import { consolePlugin } from './console/plugin.ts'
import { alertingOptions } from './alerts/config.ts'
import { createAlerting } from './alerts/engine.ts'
import { openClusterRules } from './alerts/postgres/rules-store.ts'
import { loadRulesOf } from './alerts/rules.ts'
import { createNotifier, escalationOptions } from './notify/notifier.ts'
import { openPostgresOutbox } from './notify/postgres/outbox.ts'
import { openPostgresContacts } from './notify/postgres/contacts.ts'
import { openPostgresTokenStore } from './notify/postgres/tokens.ts'
import { alertsDbTokens } from './notify/token-store.ts'
import { alertsDbContacts } from './notify/contacts.ts'
import { createDeviceControl } from './control/control.ts'
import { reportPdfRenderer } from './reports/pdf.ts'
import { createReportService } from './reports/service.ts'
import { cameraRoutes } from './api/routes/cameras.ts'
import { createBroker } from './broker/index.ts'
import type { Cluster } from './cluster/index.ts'
import type { BrokerPorts, GatewayBroker } from './broker/types.ts'
import { GatewayBus } from './bus/events.ts'
import type { GatewayConfig } from './config/schema.ts'
import { loadStations } from './domain/stations.ts'
import { createIngest } from './ingest/index.ts'
import { lockDataDir } from './sqlite/dir-lock.ts'
import { createLogger, type Logger } from './log/logger.ts'
import { Metrics } from './metrics/registry.ts'
import { applyConfiguredAdminToken, issueBootstrapToken } from './registry/bootstrap.ts'
import { openGatewayRegistry, seedGatewayRegistry } from './registry/open.ts'
import { openAlertStore } from './alerts/open-store.ts'
import { openTimeSeriesStore } from './store/index.ts'
import { listeningNotice, NO_USER_NOTICE } from './app/notice.ts'
import { authFailureLimiters } from './app/auth-failures.ts'
import { gatewayReadiness } from './app/readiness.ts'
import { startVision } from './app/vision.ts'
import { StartupError, listenOrExplain } from './net/listen.ts'
import { raiseWebhookDisabled } from './webhooks/admin-alert.ts'
import { webhookClaimMs } from './webhooks/config.ts'
import { deviceOfflineEvent, reportReadyEvent, type OutgoingEvent } from './webhooks/events.ts'
import { createWebhooks } from './webhooks/index.ts'
import { openPostgresWebhookStore } from './webhooks/postgres/store.ts'
import { alertsDbWebhooks } from './webhooks/sqlite-store.ts'

export interface RunningGateway {
  ports: { http: number } & BrokerPorts
  logger: Logger
  metrics: Metrics
  broker: GatewayBroker
  close(): Promise<void>
}

export interface StartOptions {
  config: GatewayConfig
  /** Where start-up notices go, each as one text (stdout by default; never the log): the one-time
   * bootstrap token, and where the gateway listens. */
  notice?: (text: string) => void
  logDestination?: NodeJS.WritableStream
}

function httpsOptions(tls: GatewayConfig['http']['tls']): { https?: { cert: Buffer; key: Buffer } } {
  if (!tls) return {}
  try {
    return { https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } }
  } catch (err) {
    throw new StartupError(`HTTPS: cannot read http.tls certificate or key (${(err as Error).message})`)
  }
}

/** Runs a start-up step whose failure the operator fixes (a file, a directory): one line, no stack. */
function asStartupError<T>(step: () => T): T {
  try {
    return step()
  } catch (err) {
    throw new StartupError((err as Error).message)
  }
}

export async function startGateway(opts: StartOptions): Promise<RunningGateway> {
  const { config } = opts
  const logger = createLogger(config.server.logLevel, opts.logDestination)
  const metrics = new Metrics()
  const bus = new GatewayBus()
  const closers: Array<() => Promise<void> | void> = []
  const close = async (): Promise<void> => {
    // Reverse order of start: stop accepting first, close the stores last.
    for (const c of closers.reverse()) {
      try {
        await c()
      } catch (err) {
        logger.warn({ err }, 'error while closing')
      }
    }
    logger.flush()
  }

  // Set once the broker exists; alerts are created first (see below).
  let brokerRef: GatewayBroker | undefined
  try {
    mkdirSync(config.server.dataDir, { recursive: true })
    const dirLock = asStartupError(() => lockDataDir(config.server.dataDir))
    closers.push(() => dirLock.release())
    // Cluster mode only (docs/operations.md "Several nodes"); closed late, after what uses its pool.
    let cluster: Cluster | undefined
    if (config.postgres.url) {
      // Imported only in cluster mode: a single node does not load the PostgreSQL client (docs/operations.md, Memory).
      const { startCluster } = await import('./cluster/index.ts')
      const c = await startCluster({
        url: config.postgres.url,
        ...(config.server.nodeId ? { nodeId: config.server.nodeId } : {}),
        leaseTtlMs: config.postgres.leaseTtlMs,
        logger,
        metrics,
      })
      cluster = c
      closers.push(() => c.close())
    }
    const registry = await openGatewayRegistry({ dataDir: config.server.dataDir, keyFile: config.server.keyFile, cluster, logger })
    closers.push(() => registry.close())
    if (config.auth.adminToken) await applyConfiguredAdminToken(registry, config.auth.adminToken)

    const { url: influxUrl, urls: influxUrls, ...influx } = config.influx
    if (cluster && !influxUrl && !influxUrls)
      logger.warn(
        { store: 'sqlite' },
        'cluster mode without InfluxDB: this node keeps the readings it receives in its own timeseries.db, so its readings API, ' +
          'reports and boards show only those; set influx.url on every node (docs/operations.md "Several nodes")',
      )
    const store = await openTimeSeriesStore({
      influxUrl,
      influxUrls,
      influx,
      sqlite: config.timeseries,
      dataDir: config.server.dataDir,
      logger,
      metrics,
    })
    closers.push(() => store.close())

    const stations = asStartupError(() => loadStations(config.ingest.stationsFile))
    const ingest = createIngest({ registry, store, bus, logger, metrics, stations, config: config.ingest })
    // Before the broker takes devices: AQI and rise rates continue from the stored history. The
    // store being unreachable is not fatal (they then start from empty, as on a first start).
    await ingest
      .warmUp(store)
      .catch((err: unknown) => logger.warn({ err }, 'derived-value state not rebuilt from the store; it starts empty'))

    // Cluster mode: the notification outbox in PostgreSQL, written in the alert change's own
    // transaction and sent by one node per row (docs/operations.md "Notifications across nodes").
    const outbox = cluster ? await openPostgresOutbox(cluster.pool, { nodeId: cluster.nodeId, claimMs: config.notify.claimMs }) : undefined
    // Cluster mode: the contacts in PostgreSQL, followed by every node (docs/operations.md "Contacts across nodes").
    const contacts = cluster
      ? await openPostgresContacts(cluster.pool, {
          nodeId: cluster.nodeId,
          logger,
          metrics,
          seed: () => alertsDbContacts(config.server.dataDir),
        })
      : undefined
    if (contacts) closers.push(() => contacts.close())
    const providerTokens = cluster ? await openPostgresTokenStore(cluster.pool, alertsDbTokens(config.server.dataDir)) : undefined
    const notifier = createNotifier({
      dataDir: config.server.dataDir,
      logger,
      metrics,
      config: config.notify,
      stations,
      outbox,
      contacts,
      providerTokens,
    })
    closers.push(() => notifier.close())
    // Cluster mode: alerts, their history and rule state in PostgreSQL, shared by every node
    // (docs/operations.md "Alerts in PostgreSQL").
    const alertStore = cluster
      ? await openAlertStore({ dataDir: config.server.dataDir, pool: cluster.pool, seed: { nodeId: cluster.nodeId, logger } })
      : undefined
    // Cluster mode: one rules document in PostgreSQL for every node, seeded once from this node's
    // file when there is none (docs/operations.md "Rules across nodes").
    const clusterRules = cluster
      ? await openClusterRules(cluster.pool, {
          nodeId: cluster.nodeId,
          logger,
          metrics,
          seed: () => loadRulesOf(config.server.dataDir, config.alerts.rulesFile),
        })
      : undefined
    const alerting = createAlerting({
      store: alertStore,
      bus,
      dataDir: config.server.dataDir,
      logger,
      metrics,
      stations,
      // Alerts start before the broker listens so that no reading reaches the bus unevaluated.
      publish: (topic, payload, o) => brokerRef?.publish(topic, payload, o),
      annotate: (point) => store.write([point]),
      ...alertingOptions(config.alerts),
      rules: clusterRules?.initial,
      rulesStore: clusterRules,
      // The engine escalates; the keys stay under notify.escalation (docs/notify.md).
      escalation: escalationOptions(notifier.config),
      // docs/operations.md "Alert rules across nodes": the partitions' leases, and Redis to forward inputs to their owner.
      partitions:
        cluster && config.redis.url
          ? {
              leases: cluster.leases,
              redisUrl: config.redis.url,
              nodeId: cluster.nodeId,
              count: config.alerts.partitions,
              holdMs: config.alerts.partitionHoldS * 1000,
            }
          : undefined,
    })
    if (cluster && !config.redis.url)
      logger.warn('alerts: postgres.url without redis.url, so inputs cannot be forwarded: each node evaluates the readings that reach it')
    closers.push(() => alerting.close())
    if (clusterRules) {
      clusterRules.follow((doc) => alerting.applyRules(doc))
      // Closed before the engine: no change of another node is applied to a closed engine.
      closers.push(() => clusterRules.close())
    }
    // Webhook deliveries are queued in the alert change's own transaction (next to the notification
    // outbox), so both routers see every change: in alerts.db on a single node; in cluster mode in
    // PostgreSQL, shared by every node, each delivery claimed by one, seeded once from the first node's
    // own alerts.db so a node moved to cluster mode keeps its subscriptions (docs/operations.md "Webhooks across nodes").
    const webhookStore = cluster
      ? await openPostgresWebhookStore(cluster.pool, {
          nodeId: cluster.nodeId,
          claimMs: webhookClaimMs(config.webhooks),
          logger,
          seed: () => alertsDbWebhooks(config.server.dataDir),
        })
      : undefined
    const webhooks = createWebhooks({
      db: alerting.db,
      store: webhookStore,
      logger,
      metrics,
      config: config.webhooks,
      onDisabled: (w) => {
        raiseWebhookDisabled(alerting, w).catch((err: unknown) => logger.error({ err, webhook: w.id }, 'webhook disabled alert not raised'))
      },
    })
    closers.push(() => webhooks.close())
    alerting.setRouter({
      routeInTx: async (c, note, tx) => {
        await notifier.routeInTx(c, note, tx)
        await webhooks.routeInTx(c, tx)
      },
      kick: () => {
        notifier.kick()
        webhooks.kick()
      },
    })
    const queueEvent = (e: OutgoingEvent) =>
      void webhooks.enqueue(e).catch((err: unknown) => logger.error({ err, event: e.id }, 'webhook event not queued'))
    // Device status is stored before the bus says so; a crash between the two loses that one
    // offline event (docs/webhooks.md "Delivery guarantees").
    bus.on('device-status', (s) => {
      if (!s.online) queueEvent(deviceOfflineEvent(s.device, s.ts))
    })
    webhooks.start()
    const { vision, visionOff } = await startVision({ config, registry, store, bus, logger, metrics, ingest, cluster })
    if (vision) closers.push(() => vision.close())
    // After the alerts', contacts', webhooks' and detections' copies (registry/open.ts says why).
    await seedGatewayRegistry({ dataDir: config.server.dataDir, cluster, logger })
    const { authFailures, loginNames, close: closeAuthFailures } = authFailureLimiters(config, logger, metrics)
    closers.push(closeAuthFailures)
    // Situation reports (docs/reports.md), as JSON, CSV and PDF.
    const reports = createReportService({
      store,
      stations,
      dataDir: config.server.dataDir,
      // Cluster mode: the alerts and the outbox in PostgreSQL, so a report lists every node's alerts.
      alertSources: outbox ? { alerts: alerting.store, outbox } : undefined,
      config: config.reports,
      logger,
      deviceName: async (id) => (await registry.getDevice(id))?.name,
      announce: (notice) => notifier.announce(notice),
      renderReportPdf: reportPdfRenderer({ registry, store }),
      // docs/webhooks.md: `report.ready` with the day and the one-line summary; the report itself is
      // fetched by the receiver from GET /api/v1/reports (it may be large, and it is scoped).
      onDailyReport: (r) => queueEvent(reportReadyEvent(r.date, { period: r.period, summary: r.summary }, new Date().toISOString())),
    })
    closers.push(() => reports.close())
    const control = createDeviceControl({ registry, logger, metrics, publish: (t, p, o) => brokerRef!.publish(t, p, o) })
    const broker = await createBroker({
      registry,
      metrics,
      logger,
      bus,
      config: config.mqtt,
      authFailures,
      cluster: config.redis.url
        ? { redisUrl: config.redis.url, nodeId: config.server.nodeId, heartbeatMs: config.redis.heartbeatMs }
        : undefined,
      routes: {
        telemetry: ingest.telemetry,
        status: ingest.status,
        cmd: control.ackHandler,
        ...(vision ? { frames: vision.frames } : visionOff ? { frames: visionOff.frames } : {}),
      },
    })
    brokerRef = broker
    closers.push(() => broker.close())
    closers.push(registry.onTokenRevocation((tokenId) => broker.closeTokenSessions(tokenId)))
    const brokerPorts = await listenOrExplain('MQTT', () => broker.listen(), config.mqtt.port)

    const api = await buildApi({
      registry,
      metrics,
      logger,
      config: {
        authFailuresPerMinute: config.http.authFailuresPerMinute,
        authFailuresPerUsernamePerMinute: config.http.authFailuresPerUsernamePerMinute,
        loginFailuresPerUserPerMinute: config.auth.loginFailuresPerUserPerMinute,
        sessionIdleMinutes: config.auth.sessionIdleMinutes,
        sessionMaxHours: config.auth.sessionMaxHours,
      },
      limiter: authFailures,
      loginNames,
      readiness: gatewayReadiness({ broker, store, vision, visionOff, cluster }),
      routes: [
        // Devices are handed the port the broker really bound (the config may say 0: any free port).
        ...withDeps(
          {
            registry,
            config: { ...config, mqtt: { ...config.mqtt, port: brokerPorts.mqtt } },
            ingest,
            store,
            alerting,
            notifier,
            bus,
            control,
            stations,
            reports,
            metrics,
            webhooks,
          },
          deviceRoutes,
          deviceControlRoutes,
          tokenRoutes,
          userRoutes,
          rejectRoutes,
          readingsRoutes,
          alertRoutes,
          ruleRoutes,
          subscriptionRoutes,
          notifyRoutes,
          notificationRoutes,
          eventRoutes,
          stationRoutes,
          reportRoutes,
          exportRoutes,
          webhookRoutes,
        ),
        ...(vision ? withDeps({ registry, vision }, cameraRoutes) : []),
        ...(visionOff ? withDeps({ registry, vision: visionOff }, cameraRoutes) : []),
      ],
      fastify: { trustProxy: config.http.trustProxy, ...httpsOptions(config.http.tls) },
    })
    closers.push(() => api.close())
    await api.register(consolePlugin, { map: config.console })
    await listenOrExplain('HTTP', () => api.listen({ host: config.http.host, port: config.http.port }), config.http.port)
    const httpPort = (api.server.address() as { port: number }).port

    const ports = { http: httpPort, ...brokerPorts }
    logger.info(
      { ports, dataDir: config.server.dataDir, store: config.influx.url || config.influx.urls ? 'influxdb' : 'sqlite' },
      'gateway listening',
    )
    reports.start()
    const say = opts.notice ?? ((l: string) => process.stdout.write(`${l}\n`))
    // Only now that every listener is up: a failed start must not use up the one-time token.
    if (!config.auth.adminToken) await issueBootstrapToken(registry, say)
    // One write: whoever reads the output sees the whole notice at once, not its first line.
    say(listeningNotice(config, ports, visionOff !== undefined))
    if (!(await registry.users.hasUsers())) say(NO_USER_NOTICE)
    return { ports, logger, metrics, broker, close }
  } catch (err) {
    await close()
    throw err
  }
}
