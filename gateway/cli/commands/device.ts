import { Option, type Command } from 'commander'
import type { RejectRecord } from '../../ingest/rejects.ts'
import type { Device } from '../../registry/types.ts'
import { DEVICE_KINDS, DEVICE_STATES } from '../../registry/types.ts'
import { callApi, print, printJson } from '../client.ts'
import { record, table } from '../table.ts'
import { collect } from '../options.ts'

interface WithCredentials {
  device: Device
  credentials: { username: string; password: string; mqtt_url: string }
}

const path = (id: string) => `/devices/${encodeURIComponent(id)}`
// Numbers the user typed go as numbers; anything else goes as typed so the API names the field.
const num = (v: string | undefined) => (v === undefined ? undefined : Number.isFinite(Number(v)) && v.trim() !== '' ? Number(v) : v)

function showCredentials(body: WithCredentials, verb: string): void {
  const d = body.device
  print(`device ${d.id} ${verb} (${d.kind}, "${d.name}")`)
  print('')
  print('MQTT credentials (shown only now: store the password on the device):')
  print(
    record([
      ['username', body.credentials.username],
      ['password', body.credentials.password],
      ['url', body.credentials.mqtt_url],
    ])
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  )
}

/** A device as JSON (`--json`) or as aligned "key: value" lines. */
function showDevice(d: Device, json?: boolean): void {
  if (json) return printJson(d)
  print(
    record([
      ['id', d.id],
      ['kind', d.kind],
      ['name', d.name],
      ['station', d.station],
      ['district', d.district],
      ['location', d.location ? `${d.location.lat}, ${d.location.lon}` : null],
      ['tags', d.tags],
      ['state', d.state],
      ['created', d.created_at],
      ['updated', d.updated_at],
    ]),
  )
}

export function register(program: Command): void {
  const device = program.command('device').description('register and manage devices (technician or admin token)')

  device
    .command('add')
    .description('register a device and print its MQTT credentials (the password is shown only once)')
    .addOption(new Option('--kind <kind>', 'device kind').choices(DEVICE_KINDS).makeOptionMandatory())
    .requiredOption('--name <name>', 'name (Vietnamese text welcome)')
    .option('--id <id>', 'device id, [a-z0-9][a-z0-9-]{2,63} (generated when omitted)')
    .option('--station <station>', 'station id, e.g. kim-long')
    .option('--district <district>', 'district')
    .option('--lat <lat>', 'latitude')
    .option('--lon <lon>', 'longitude')
    .option('--tag <tag>', 'a tag (repeat for several)', collect)
    .option('--json', 'print the API answer as JSON')
    .action(
      async (o: {
        kind: string
        name: string
        id?: string
        station?: string
        district?: string
        lat?: string
        lon?: string
        tag?: string[]
        json?: boolean
      }) => {
        const body = {
          ...(o.id !== undefined ? { id: o.id } : {}),
          kind: o.kind,
          name: o.name,
          ...(o.station !== undefined ? { station: o.station } : {}),
          ...(o.district !== undefined ? { district: o.district } : {}),
          ...(o.lat !== undefined || o.lon !== undefined ? { location: { lat: num(o.lat), lon: num(o.lon) } } : {}),
          ...(o.tag ? { tags: o.tag } : {}),
        }
        const res = await callApi<WithCredentials>('POST', '/devices', body)
        if (o.json) printJson(res)
        else showCredentials(res, 'registered')
      },
    )

  device
    .command('list')
    .description('list devices')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(DEVICE_KINDS))
    .option('--station <station>', 'only this station')
    .addOption(new Option('--state <state>', 'only this state').choices(DEVICE_STATES))
    .option('--limit <n>', 'at most this many (default: all)')
    .option('--json', 'print {"items": [...], "next": cursor|null} as JSON')
    .action(async (o: { kind?: string; station?: string; state?: string; limit?: string; json?: boolean }) => {
      const want = o.limit !== undefined ? Number(o.limit) : Infinity
      const items: Device[] = []
      let next: string | null = null
      do {
        const q = new URLSearchParams()
        if (o.kind) q.set('kind', o.kind)
        if (o.station) q.set('station', o.station)
        if (o.state) q.set('state', o.state)
        q.set('limit', String(Number.isFinite(want) ? Math.max(1, Math.min(500, want - items.length)) : 500))
        if (o.limit !== undefined && !Number.isFinite(want)) q.set('limit', o.limit)
        if (next) q.set('cursor', next)
        const page: { items: Device[]; next: string | null } = await callApi('GET', `/devices?${q}`)
        items.push(...page.items)
        next = page.next
      } while (next && items.length < want)
      if (o.json) return printJson({ items, next })
      if (items.length === 0) return print('no devices')
      print(
        table(
          items.map((d) => ({ ...d })),
          { id: 'ID', kind: 'KIND', name: 'NAME', station: 'STATION', district: 'DISTRICT', state: 'STATE' },
        ),
      )
      if (next) print(`(more: --limit is ${want}; run without it for all)`)
    })

  device
    .command('show <id>')
    .description('show one device')
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const d = await callApi<Device>('GET', path(id))
      showDevice(d, o.json)
    })

  device
    .command('update <id>')
    .description('change a device; --state disabled closes its session at once')
    .option('--name <name>', 'new name')
    .option('--station <station>', 'new station ("" to clear)')
    .option('--district <district>', 'new district ("" to clear)')
    .addOption(new Option('--state <state>', 'new state').choices(DEVICE_STATES))
    .option('--tag <tag>', 'replace the tags (repeat for several)', collect)
    .option('--json', 'print as JSON')
    .action(
      async (id: string, o: { name?: string; station?: string; district?: string; state?: string; tag?: string[]; json?: boolean }) => {
        const patch: Record<string, unknown> = {}
        if (o.name !== undefined) patch.name = o.name
        if (o.station !== undefined) patch.station = o.station === '' ? null : o.station
        if (o.district !== undefined) patch.district = o.district === '' ? null : o.district
        if (o.state !== undefined) patch.state = o.state
        if (o.tag !== undefined) patch.tags = o.tag
        const d = await callApi<Device>('PATCH', path(id), patch)
        showDevice(d, o.json)
      },
    )

  device
    .command('rotate-secret <id>')
    .description('give a device a new MQTT password; the old one stops working and its session is closed')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const res = await callApi<WithCredentials>('POST', `${path(id)}/rotate-secret`)
      if (o.json) printJson(res)
      else showCredentials(res, 'has a new secret')
    })

  device
    .command('rejects <id>')
    .description("the device's most recently refused messages (telemetry, status, camera frames), newest first, with the reason")
    .option('--json', 'print {"items": [...], "next": null} as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const page = await callApi<{ items: RejectRecord[]; next: null }>('GET', `${path(id)}/rejects`)
      if (o.json) return printJson(page)
      if (page.items.length === 0)
        return print(`no refused messages kept for ${id} (the gateway keeps the last few per device since it started)`)
      // The device's own topics: the part after devices/{id}/ says which (telemetry, status, frames/...).
      const own = `devices/${id}/`
      print(
        table(
          page.items.map((r) => ({ ...r, topic: r.topic.startsWith(own) ? r.topic.slice(own.length) : r.topic })),
          { ts: 'TIME', topic: 'TOPIC', reason: 'REASON', message: 'MESSAGE' },
        ),
      )
    })

  device
    .command('remove <id>')
    .description('decommission a device: credentials deleted, session closed, readings kept')
    .option('--json', 'print the removed device as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const d = await callApi<Device>('DELETE', path(id))
      if (o.json) printJson(d)
      else print(`device ${d.id} removed: ${d.state}, credentials deleted, its readings are kept`)
    })
}
