// Child process for the kill -9 test. Phase "write": routes one alert change into the outbox with
// the sender stopped, prints READY and waits to be killed. Phase "send": a fresh process on the
// same data dir starts the sender, drains the outbox and prints DONE.
import { createAlerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createNotifier } from '../../gateway/notify/notifier.ts'

const [phase, dataDir, configJson] = process.argv.slice(2) as [string, string, string]
const config = JSON.parse(configJson)
const logger = createLogger('silent')
const st = loadStations('config/stations.yaml')
const notifier = createNotifier({
  dataDir,
  logger,
  metrics: new Metrics({ defaults: false }),
  config,
  stations: st,
  start: phase === 'send',
})

if (phase === 'write') {
  const alerting = createAlerting({
    dataDir,
    logger,
    metrics: new Metrics({ defaults: false }),
    stations: st,
    rules: parseRules({ version: 1, rules: [{ id: 'water-level', type: 'water_alarm', min_duration_s: 0 }] }),
  })
  alerting.setRouter(notifier)
  await notifier.contacts.create({
    name: 'Trực ban',
    phone: '0905123456',
    zalo_user_id: 'zu-1',
    role: 'officer',
    channels: ['sms', 'zalo_zns', 'zalo_oa'],
  })
  await alerting.handleReading({
    device: 'kim-long-01',
    kind: 'water_level',
    station: 'kim-long',
    district: null,
    ts: Date.now(),
    seq: 1,
    values: { water_level: 2.4 },
    late: false,
  })
  process.stdout.write(`READY ${(await notifier.outbox()).length}\n`)
  setInterval(() => {}, 1000)
} else if (phase === 'hang') {
  // Sender on, against a provider that takes the request and never answers: killed mid-send.
  notifier.start()
  setInterval(() => {}, 1000)
} else {
  await notifier.drain()
  const rows = await notifier.outbox()
  process.stdout.write(`DONE ${JSON.stringify(rows.map((r) => ({ channel: r.channel, state: r.state, attempts: r.attempts })))}\n`)
  await notifier.close()
  process.exit(0)
}
