// `npm run bench -- cluster [--seconds 10] [--publishers 4] [--devices 200] [--window 32]
//   [--rounds 3] [--kills 5] [--failover-devices 40] [--reconnect-ms 1000] [--no-redispatch]
//   [--failover-only]` (`--quick`: 5 s runs, 100 devices, 20 failover devices). bench/README.md
//   "cluster" says more.
//
// One gateway node alone against two cluster nodes (PostgreSQL registry, Redis between the
// brokers) behind HAProxy (TCP with PROXY v2, health checks on /readyz, as config/haproxy.cfg),
// with the same publisher processes and the same influxd: readings/s stored and publish → PUBACK
// (PUBACK once the reading is stored) at full speed and at one offered rate for both, the paced
// runs alternating over `--rounds` with a third layout, two embedded nodes behind HAProxy (the
// floor no cluster code can go under); CPU per stored reading of every gateway process plus Redis
// and HAProxy; then failover: a node killed with SIGKILL, time until every device publishing
// through HAProxy is acknowledged again.
import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startHaproxy, tcpFrontend, httpFrontend, type RunningHaproxy } from '../test/support/haproxy.ts'
import { startInfluxd, type Influxd } from '../test/support/influxd.ts'
import { startPostgres, type PgInstance } from '../test/support/postgres.ts'
import { startRedis, type RedisServer } from '../test/support/redis.ts'
import { freePort, hasCommand, waitFor } from '../test/support/services.ts'
import { arg, pct, positiveArg } from './_args.ts'
import { killLoop, steadyDevices, type KillResult } from './_cluster-failover.ts'
import { cpuPerReadingUs, failoverSummary, goalLine } from './_cluster-figures.ts'
import {
  alertRouting,
  connectedDevices,
  gatewayNode,
  postmasterPid,
  redisPid,
  registerDevices,
  withChildren,
  type Node,
} from './_cluster-nodes.ts'
import { CpuSampler, pidsMatching, type CpuWindow } from './_cpu.ts'
import { countStored, influxStats, newestTs, storedOnceSettled } from './_ingest-influx.ts'
import { startPublishers, type Opts, type Publishers } from './_ingest-publishers.ts'

interface ClusterOpts extends Opts {
  /** Paced runs of the two layouts, alternating (the ratio is their median). */
  rounds: number
  kills: number
  failoverDevices: number
  reconnectMs: number
  redispatch: boolean
  failoverOnly: boolean
}

interface Run {
  layout: string
  name: string
  rate: number
  stored: number
  acked: number
  p50: number
  p99: number
  perProcess: number[]
  window: CpuWindow
  /** CPU groups whose time is this layout's cost per reading. */
  cost: string[]
}

/** What a layout is measured with: its gateway processes, database and connected publishers. */
interface Layout {
  label: string
  nodes: Node[]
  /** CPU group of its gateway processes. */
  group: string
  /** CPU groups of what it adds around its gateways (HAProxy, Redis), counted in its cost per reading. */
  around: string[]
  db: string
  pubs: Publishers
}

function parseArgs(argv: string[]): ClusterOpts {
  const quick = argv.includes('--quick')
  return {
    seconds: arg(argv, 'seconds', quick ? 5 : 10),
    publishers: arg(argv, 'publishers', 4),
    devices: arg(argv, 'devices', quick ? 100 : 200),
    window: arg(argv, 'window', 32),
    rounds: positiveArg(argv, 'rounds', 3, true),
    kills: arg(argv, 'kills', 5),
    failoverDevices: arg(argv, 'failover-devices', quick ? 20 : 40),
    reconnectMs: arg(argv, 'reconnect-ms', 1000),
    redispatch: !argv.includes('--no-redispatch'),
    failoverOnly: argv.includes('--failover-only'),
  }
}

/** Waits (at most 20 s) until every group uses under a tenth of a core over a whole second. */
async function settled(cpu: CpuSampler, groups: string[]): Promise<void> {
  const start = Date.now()
  while (Date.now() < start + 20_000) {
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, 1000))
    const w = cpu.window(t0, Date.now())
    if (groups.every((g) => (w.groups.get(g) ?? 0) < 0.1)) return
  }
  console.log(`${groups.join(' and ')} still busy after 20 s; measuring anyway`)
}

async function measure(l: Layout, name: string, rates: number[], influxd: Influxd, cpu: CpuSampler): Promise<Run> {
  const before = await countStored(influxd, l.db)
  const requestsBefore = (await influxStats(influxd))('httpd', 'writeReq')
  const results = await l.pubs.run(rates, await newestTs(influxd, l.db))
  const start = Math.min(...results.map((r) => r.start))
  const end = Math.max(...results.map((r) => r.lastAck))
  const window = cpu.window(start, end)
  const acked = results.reduce((s, r) => s + r.acked, 0)
  // Readings acknowledged from a spill journal reach InfluxDB shortly after their PUBACK.
  const stored = (await storedOnceSettled(influxd, l.db, before + acked)) - before
  const requests = (await influxStats(influxd))('httpd', 'writeReq') - requestsBefore
  const lat = results.flatMap((r) => r.latencies)
  const run: Run = {
    layout: l.label,
    name,
    rate: stored / ((end - start) / 1000),
    stored,
    acked,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    perProcess: results.map((r) => r.acked / ((r.lastAck - r.start) / 1000)),
    window,
    cost: [l.group, ...l.around],
  }
  const errors = results.reduce((s, r) => s + r.errors, 0)
  const connected = (await Promise.all(l.nodes.map((n) => connectedDevices(n.apiUrl)))).join(' + ')
  console.log(
    `${l.label}, ${name}: ${run.rate.toFixed(0)} readings/s stored (${stored} stored, ${acked} acknowledged${stored < acked ? ', LOST!' : ''}, ${errors} errors), p50 ${run.p50} ms, p99 ${run.p99} ms; devices connected after the run: ${connected}; InfluxDB write requests ${(requests / ((end - start) / 1000)).toFixed(0)}/s, ${(requests ? stored / requests : 0).toFixed(0)} readings each`,
  )
  return run
}

/** Each node's alert partitions held, its alert inputs by where they went (local or forwarded) and its MQTT messages by way. */
async function routingLine(nodes: Node[]): Promise<string> {
  const parts = await Promise.all(
    nodes.map(async (n, i) => {
      const r = await alertRouting(n.apiUrl)
      const routed = Object.entries(r.routed).map(([k, v]) => `${k} ${v}`)
      const messages = Object.entries(r.messages).map(([k, v]) => `${k} ${v}`)
      return `node${i + 1}: ${r.held} partitions held, ${routed.join(', ') || 'none routed'}; MQTT messages ${messages.join(', ') || 'none'}`
    }),
  )
  return parts.join('; ')
}

/** Cores each group used over `ms` with every device connected and silent (keepalives, heartbeats, lease rounds). */
async function idleCores(cpu: CpuSampler, groups: string[], ms = 5_000): Promise<string> {
  const t0 = Date.now()
  await new Promise((r) => setTimeout(r, ms))
  const w = cpu.window(t0, Date.now())
  return groups.map((g) => `${g} ${(w.groups.get(g) ?? 0).toFixed(3)}`).join(', ')
}

/** CPU per stored reading of `groups` over a run, µs. */
const us = (r: Run, groups: string[]) =>
  cpuPerReadingUs(
    groups.reduce((s, g) => s + (r.window.groups.get(g) ?? 0), 0),
    r.window.seconds,
    r.rate * r.window.seconds,
  )

function table(runs: Run[]): string {
  const c = (r: Run, g: string) => (r.window.groups.get(g) ?? 0).toFixed(2)
  const gw = (r: Run) => r.cost[0]!
  const haproxy = (r: Run) => r.cost.find((g) => g.startsWith('haproxy')) ?? 'haproxy'
  const lines = [
    '| layout | run | readings/s stored | p50 ms | p99 ms | cores: gateway processes / redis / haproxy / postgres / influxd / publishers | machine busy | µs CPU per stored reading: gateways (+ redis + haproxy for two nodes, + haproxy for the embedded pair) (+ postgres, two nodes) |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |',
  ]
  for (const r of runs)
    lines.push(
      `| ${r.layout} | ${r.name} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${[gw(r), 'redis', haproxy(r), 'postgres', 'influxd', 'publishers'].map((g) => c(r, g)).join(' / ')} | ${r.window.machineBusy.toFixed(2)} of ${r.window.cores} | ${us(r, r.cost).toFixed(1)}${r.cost.includes('redis') ? ` (${us(r, [...r.cost, 'postgres']).toFixed(1)})` : ''} |`,
    )
  return lines.join('\n')
}

/** Tracks PostgreSQL's postmaster and every backend it has now (one per pooled connection). */
function trackPostgres(cpu: CpuSampler, pgi: PgInstance): void {
  const pm = postmasterPid(pgi.dir)
  if (pm !== undefined) for (const pid of withChildren(pm)) cpu.track('postgres', pid)
}

const benchIds = (o: ClusterOpts): string[] => Array.from({ length: o.devices }, (_, i) => `bench-${i}`)
const failoverIds = (o: ClusterOpts): string[] => Array.from({ length: o.failoverDevices }, (_, i) => `fo-${i}`)
/** Every device a run registers, each with its own station (bench/_gauge-stations.ts). */
const gaugeIds = (o: ClusterOpts): string[] => [...benchIds(o), ...failoverIds(o)]

async function singleNode(o: ClusterOpts, influxd: Influxd, cpu: CpuSampler): Promise<Layout> {
  const node = await gatewayNode({
    name: 'single',
    env: { IOC_INFLUX_URL: influxd.urlFor('bench_single') },
    readyPath: '/healthz',
    gauges: gaugeIds(o),
  })
  try {
    await node.start()
    cpu.track('single', node.pid)
    const devices = await registerDevices(node.apiUrl, benchIds(o))
    const pubs = await startPublishers(o, `mqtt://127.0.0.1:${node.ports.mqtt}`, devices, cpu)
    return { label: 'one node', nodes: [node], group: 'single', around: [], db: 'bench_single', pubs }
  } catch (err) {
    await node.remove()
    throw err
  }
}

/** As config/cluster.yaml: the client's address from the PROXY header and X-Forwarded-For. */
const BEHIND_HAPROXY = { mqtt: { proxyProtocol: true }, http: { trustProxy: true } }
/** The shipped check timing (config/haproxy.cfg): every 2 s, down after 3 failures, up after 2. */
const CHECK_TIMING = { interMs: 2000, fall: 3, rise: 2 }

/** HAProxy's MQTT frontend on `port` to `nodes`, each checked on its /readyz. */
const mqttFrontend = (port: number, nodes: Node[]) =>
  tcpFrontend({
    name: 'mqtt',
    port,
    backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.ports.mqtt, checkPort: n.ports.http })),
    timing: CHECK_TIMING,
  })

/** Waits (at most a minute) until HAProxy has every node of its MQTT backend UP. */
const everyNodeUp = (haproxy: RunningHaproxy, nodes: Node[]) =>
  waitFor(async () => {
    for (const n of nodes) if ((await haproxy.serverStatus('mqtt_nodes', n.name)) !== 'UP') return false
    return true
  }, 60_000)

/** The embedded pair: its layout, and how to take it down. */
interface Pair {
  layout: Layout
  stop(): Promise<void>
}

/**
 * Two nodes in the embedded default (SQLite, the in-process broker; no PostgreSQL, no Redis) behind
 * HAProxy as the cluster's: the second starts from a copy of the first one's registry and server
 * key, so every device is known to both. No cluster code runs (each node evaluates the readings
 * that reach it, nothing crosses between them): against the single node this is what two
 * processes and HAProxy cost on this machine before any of the clustered path's own work.
 */
async function embeddedPair(o: ClusterOpts, influxd: Influxd, cpu: CpuSampler): Promise<Pair> {
  const node = (name: string, seed?: Record<string, Buffer>) =>
    gatewayNode({
      name,
      env: { IOC_INFLUX_URL: influxd.urlFor('bench_pair') },
      overrides: BEHIND_HAPROXY,
      readyPath: '/readyz',
      seed,
      gauges: gaugeIds(o),
    })
  const nodes: Node[] = []
  let haproxy: RunningHaproxy | undefined
  const stop = async () => {
    await haproxy?.stop()
    for (const n of nodes) await n.remove()
  }
  try {
    const a = await node('pair1')
    nodes.push(a)
    await a.start()
    const devices = await registerDevices(a.apiUrl, benchIds(o))
    // An online backup: the registry is in WAL mode and in use.
    const copy = join(a.dataDir, 'registry-copy.db')
    const db = new Database(join(a.dataDir, 'registry.db'), { readonly: true })
    await db.backup(copy)
    db.close()
    const b = await node('pair2', { 'server.key': readFileSync(join(a.dataDir, 'server.key')), 'registry.db': readFileSync(copy) })
    nodes.push(b)
    await b.start()
    const port = await freePort()
    haproxy = await startHaproxy([mqttFrontend(port, nodes)], [port])
    await everyNodeUp(haproxy, nodes)
    for (const n of nodes) cpu.track('pair', n.pid)
    cpu.track('haproxy-pair', haproxy.child.pid)
    const pubs = await startPublishers(o, `mqtt://127.0.0.1:${port}`, devices, cpu)
    const layout: Layout = {
      label: 'two embedded nodes + HAProxy',
      nodes,
      group: 'pair',
      around: ['haproxy-pair'],
      db: 'bench_pair',
      pubs,
    }
    return {
      layout,
      stop: async () => {
        await pubs.close()
        await stop()
      },
    }
  } catch (err) {
    await stop()
    throw err
  }
}

interface Cluster {
  pgi: PgInstance
  redis: RedisServer
  nodes: Node[]
  haproxy: RunningHaproxy
  front: { mqtt: number; api: number }
}

/**
 * `--no-redispatch` takes `option redispatch 1` and `retries 2` out of the MQTT backend
 * (config/haproxy.cfg has them): a client sent to a killed node before the health check marks it
 * down then waits out HAProxy's retries on that node and is closed, which shows what they buy.
 */
function withoutRedispatch(section: string, off: boolean): string {
  return off ? section.replace('  option redispatch 1\n  retries 2\n', '') : section
}

async function startCluster(o: ClusterOpts, influxd: Influxd, cpu: CpuSampler): Promise<Cluster> {
  const pgi = await startPostgres()
  const redis = await startRedis()
  const pgUrl = await pgi.createDatabase('iocgw_bench')
  const env = (id: string) => ({
    IOC_INFLUX_URL: influxd.urlFor('bench_cluster'),
    IOC_POSTGRES_URL: pgUrl,
    IOC_REDIS_URL: redis.url,
    IOC_NODE_ID: id,
  })
  const a = await gatewayNode({ name: 'node1', env: env('node1'), overrides: BEHIND_HAPROXY, readyPath: '/readyz', gauges: gaugeIds(o) })
  const nodes = [a]
  try {
    await a.start()
    // Every node hashes secrets with the same server key (docs/operations.md "Server key").
    const key = readFileSync(join(a.dataDir, 'server.key'))
    const b = await gatewayNode({
      name: 'node2',
      env: env('node2'),
      overrides: BEHIND_HAPROXY,
      readyPath: '/readyz',
      seed: { 'server.key': key },
      gauges: gaugeIds(o),
    })
    nodes.push(b)
    await b.start()
    const front = { mqtt: await freePort(), api: await freePort() }
    const haproxy = await startHaproxy(
      [
        withoutRedispatch(mqttFrontend(front.mqtt, nodes), !o.redispatch),
        httpFrontend({
          name: 'api',
          port: front.api,
          backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.ports.http })),
          timing: CHECK_TIMING,
        }),
      ],
      [front.mqtt, front.api],
    )
    await everyNodeUp(haproxy, nodes)
    for (const n of nodes) cpu.track('nodes', n.pid)
    cpu.track('redis', redisPid(redis.port))
    cpu.track('haproxy', haproxy.child.pid)
    return { pgi, redis, nodes, haproxy, front }
  } catch (err) {
    for (const n of nodes) await n.remove()
    await redis.stop()
    await pgi.stop()
    throw err
  }
}

/** The kills, with `creds` publishing through HAProxy meanwhile. */
async function failover(o: ClusterOpts, c: Cluster, creds: Array<{ id: string; password: string }>): Promise<KillResult[]> {
  const steady = await steadyDevices(`mqtt://127.0.0.1:${c.front.mqtt}`, creds, 200, o.reconnectMs)
  try {
    return await killLoop({
      nodes: c.nodes,
      haproxy: c.haproxy,
      backend: 'mqtt_nodes',
      devices: steady.devices,
      kills: o.kills,
      waitMs: 60_000,
    })
  } finally {
    await steady.close()
  }
}

function failoverLines(kills: KillResult[]): string {
  if (kills.length === 0) return 'failover: not measured (--kills 0)'
  const fo = failoverSummary(kills.map((k) => k.failoverMs))
  const down = kills.map((k) => k.downMs).filter((t): t is number => t !== undefined)
  return [
    `failover over ${kills.length} kills: p50 ${fo.p50} ms, p99 ${fo.p99} ms (${fo.failed} did not complete within 60 s); HAProxy DOWN after p50 ${pct(down, 50)} ms, p99 ${pct(down, 99)} ms`,
    goalLine('failover p99', fo.failed > 0 ? Number.POSITIVE_INFINITY : fo.p99 / 1000, ' s', '<', 10),
  ].join('\n')
}

/** `--failover-only`: the cluster and its kills, no throughput runs. */
async function failoverOnly(o: ClusterOpts, influxd: Influxd, cpu: CpuSampler): Promise<void> {
  const c = await startCluster(o, influxd, cpu)
  try {
    const creds = await registerDevices(`http://127.0.0.1:${c.front.api}`, failoverIds(o))
    console.log(failoverLines(await failover(o, c, creds)))
  } finally {
    await stopCluster(c)
  }
}

async function stopCluster(c: Cluster): Promise<void> {
  await c.haproxy.stop()
  for (const n of c.nodes) await n.remove()
  await c.redis.stop()
  await c.pgi.stop()
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv)
  for (const cmd of ['influxd', 'redis-server', 'haproxy', '/usr/lib/postgresql/15/bin/initdb'])
    if (!hasCommand(cmd)) throw new Error(`${cmd} is not installed (Debian packages influxdb, redis-server, haproxy, postgresql-15)`)
  console.log(
    `cluster bench: ${o.seconds} s per run, ${o.publishers} publisher processes, ${o.devices} devices, window ${o.window}; failover: ${o.kills} kills, ${o.failoverDevices} devices, reconnect every ${o.reconnectMs} ms; HAProxy ${o.redispatch ? 'as config/haproxy.cfg (option redispatch 1, retries 2)' : 'without redispatch (--no-redispatch)'}`,
  )
  const influxd = await startInfluxd()
  const cpu = new CpuSampler()
  for (const pid of pidsMatching(influxd.dir)) cpu.track('influxd', pid)
  if (o.failoverOnly) {
    try {
      await failoverOnly(o, influxd, cpu)
    } finally {
      cpu.stop()
      await influxd.remove()
    }
    return
  }
  let sMax: Run | undefined
  let cMax: Run | undefined
  let cHalf: Run | undefined
  let sHalf: Run | undefined
  const clusterPaced: Run[] = []
  const singlePaced: Run[] = []
  const pairPaced: Run[] = []
  let kills: KillResult[] | undefined
  try {
    // The single node stays up, idle, while the cluster runs: its paced run comes last, at the
    // rate both layouts sustain.
    const single = await singleNode(o, influxd, cpu)
    try {
      const idleSingle = await idleCores(cpu, ['single'])
      sMax = await measure(single, 'max rate', [], influxd, cpu)
      await settled(cpu, ['influxd', 'single'])
      const c = await startCluster(o, influxd, cpu)
      try {
        const api = `http://127.0.0.1:${c.front.api}`
        const devices = await registerDevices(api, benchIds(o))
        const foCreds = await registerDevices(api, failoverIds(o))
        const pubs = await startPublishers(o, `mqtt://127.0.0.1:${c.front.mqtt}`, devices, cpu)
        trackPostgres(cpu, c.pgi)
        const cluster: Layout = {
          label: 'two nodes + HAProxy',
          nodes: c.nodes,
          group: 'nodes',
          around: ['redis', 'haproxy'],
          db: 'bench_cluster',
          pubs,
        }
        const idleCluster = await idleCores(cpu, ['nodes', 'redis', 'haproxy', 'postgres'])
        console.log(`idle, every device connected, cores: one node: ${idleSingle}; two nodes + HAProxy: ${idleCluster}`)
        cMax = await measure(cluster, 'max rate', [], influxd, cpu)
        // Both layouts offered the same load: half of what the slower one reached, spread over
        // the publisher processes as the single node's max run spread it (the same mix of single
        // readings and arrays).
        const scale = (0.5 * Math.min(sMax.rate, cMax.rate)) / sMax.rate
        const rates = sMax.perProcess.map((r) => r * scale)
        const half = rates.map((r) => r / 2)
        console.log(`paced runs: ${rates.reduce((s, r) => s + r, 0).toFixed(0)} readings/s offered, ${o.rounds} rounds`)
        const pair = await embeddedPair(o, influxd, cpu)
        try {
          // The host's speed drifts over minutes (the single node's paced figure ranged 16.6-25.9
          // µs in one afternoon): the layouts take turns, the single node between the other two
          // and the order reversed every round, so that each round's ratios compare runs a few
          // seconds apart; the goal reads the rounds' median.
          for (let round = 1; round <= o.rounds; round++) {
            const order = round % 2 === 1 ? [cluster, single, pair.layout] : [pair.layout, single, cluster]
            for (const l of order) {
              await settled(cpu, ['influxd', l.group])
              const run = await measure(l, `paced, round ${round}`, rates, influxd, cpu)
              ;(l === cluster ? clusterPaced : l === single ? singlePaced : pairPaced).push(run)
            }
          }
        } finally {
          await pair.stop()
        }
        // The same at half that rate, against the single node's run at that rate below: whether
        // the clustered path's cost per reading falls with the load as the single node's does.
        await settled(cpu, ['influxd', 'nodes'])
        cHalf = await measure(cluster, 'paced at half', half, influxd, cpu)
        console.log(`alert inputs since start, by node: ${await routingLine(c.nodes)}`)
        await pubs.close()
        // What each of the two nodes carried: the single node at half the paced rate. Against it
        // the two-node figure is the cluster's own cost; against the paced single node it also
        // holds what a node pays more per reading at half the load (smaller batches and writes).
        await settled(cpu, ['influxd', 'single'])
        sHalf = await measure(single, 'paced at half (one node of two)', half, influxd, cpu)
        kills = await failover(o, c, foCreds)
      } finally {
        await stopCluster(c)
      }
    } finally {
      await single.pubs.close()
      for (const n of single.nodes) await n.remove()
    }
    if (!sMax || !cMax || !cHalf || !sHalf) throw new Error('cluster bench: a run is missing')
    console.log(`\n${table([sMax, ...singlePaced, sHalf, ...pairPaced, cMax, ...clusterPaced, cHalf])}\n`)
    const cost = (r: Run) => us(r, r.cost)
    /** Each round's CPU per reading of `over` against `under`'s, and the median. */
    const byRound = (over: Run[], under: Run[]) => {
      const ratios = over.map((x, i) => cost(x) / cost(under[i]!))
      const median = pct(ratios, 50)
      const line = `${ratios.map((x, i) => `${cost(over[i]!).toFixed(1)} / ${cost(under[i]!).toFixed(1)} µs (${x.toFixed(2)}x)`).join('; ')}; median ${median.toFixed(2)}x`
      return { ratios, median, line }
    }
    const { ratios, median: cpuRatio, line } = byRound(clusterPaced, singlePaced)
    // The round whose ratio is the median stands for the paced figures below.
    const m = ratios.indexOf(cpuRatio)
    const [cPaced, sPaced] = [clusterPaced[m]!, singlePaced[m]!]
    console.log(`CPU per stored reading, two nodes / one node, paced, by round: ${line}`)
    console.log(
      `the floor, two embedded nodes + HAProxy (no cluster code) / one node, paced, by round: ${byRound(pairPaced, singlePaced).line}`,
    )
    console.log(
      `the clustered path over that floor, two nodes + HAProxy / two embedded nodes + HAProxy, by round: ${byRound(clusterPaced, pairPaced).line}`,
    )
    console.log(
      `ratios: two nodes / one node readings/s at max rate ${(cMax.rate / sMax.rate).toFixed(2)}x; p99 at the same offered rate (median round, ${sPaced.rate.toFixed(0)} / ${cPaced.rate.toFixed(0)} readings/s stored) ${sPaced.p99.toFixed(1)} → ${cPaced.p99.toFixed(1)} ms`,
    )
    console.log(
      `CPU per stored reading, gateway processes + Redis + HAProxy (median round): one node ${cost(sPaced).toFixed(1)} µs, two nodes ${cost(cPaced).toFixed(1)} µs at the same offered rate (${cpuRatio.toFixed(2)}x); at max rate ${cost(sMax).toFixed(1)} → ${cost(cMax).toFixed(1)} µs (${(cost(cMax) / cost(sMax)).toFixed(2)}x); PostgreSQL adds ${us(cPaced, ['postgres']).toFixed(2)} µs`,
    )
    console.log(
      `one node at half the paced rate (what each of the two carried): ${cost(sHalf).toFixed(1)} µs per stored reading; the two nodes (median round) over it: ${(cost(cPaced) / cost(sHalf)).toFixed(2)}x`,
    )
    const halfRatio = cost(cHalf) / cost(sHalf)
    console.log(
      `at half the paced rate (${sHalf.rate.toFixed(0)} / ${cHalf.rate.toFixed(0)} readings/s stored; machine busy ${sHalf.window.machineBusy.toFixed(2)} / ${cHalf.window.machineBusy.toFixed(2)} of ${cHalf.window.cores}): one node ${cost(sHalf).toFixed(1)} µs, two nodes ${cost(cHalf).toFixed(1)} µs (${halfRatio.toFixed(2)}x)`,
    )
    console.log(
      goalLine(
        `clustered CPU per reading / single node, paced, median of ${ratios.length} alternating rounds (machine busy ${cPaced.window.machineBusy.toFixed(2)} of ${cPaced.window.cores} in the median round)`,
        cpuRatio,
        'x',
        '≤',
        1.4,
      ),
    )
    console.log(
      goalLine(
        `clustered CPU per reading / single node, at half the paced rate (machine busy ${cHalf.window.machineBusy.toFixed(2)} of ${cHalf.window.cores})`,
        halfRatio,
        'x',
        '≤',
        1.4,
      ),
    )
    console.log(failoverLines(kills ?? []))
  } finally {
    cpu.stop()
    await influxd.remove()
  }
}
