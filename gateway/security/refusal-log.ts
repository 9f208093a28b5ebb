// Refused authentications, logged as one summary line per interval instead of a line each. A
// line per refusal let a client with a wrong password fill the disk (500 refusals a second at
// ~190 bytes is 1.3 GB an hour); a summary is bounded whatever the rate, and still names who
// was refused, from where and why.
import type { Logger } from '../log/logger.ts'

export interface RefusalSummary {
  /** Records one refusal; nothing is written until the interval ends. */
  note(address: string | undefined, username: string | undefined, reason: string): void
  /** Writes the pending summary now (also done every interval and on close). */
  flush(): void
  close(): void
}

export interface RefusalSummaryOptions {
  /** The `event` field of the summary line, e.g. `mqtt_connect_refusals`. */
  event: string
  msg: string
  /** Default 10 s. */
  intervalMs?: number
  /** Addresses listed per line at most (the rest are summed as `otherAddresses`). Default 20. */
  maxAddresses?: number
}

interface PerAddress {
  count: number
  reasons: Record<string, number>
  /** A few of the user names tried (already made safe for a log by the caller). */
  usernames: string[]
}

/** Addresses tracked within one interval at most: the map itself must not grow without bound. */
const MAX_TRACKED = 10_000
const USERNAMES_KEPT = 3

export function refusalSummary(log: Logger, opts: RefusalSummaryOptions): RefusalSummary {
  const maxAddresses = opts.maxAddresses ?? 20
  let byAddress = new Map<string, PerAddress>()
  let total = 0
  let untracked = 0
  let since = Date.now()
  let timer: NodeJS.Timeout | undefined

  function flush(): void {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (total === 0) return
    const sorted = [...byAddress.entries()].sort((a, b) => b[1].count - a[1].count)
    const listed = sorted.slice(0, maxAddresses).map(([address, p]) => ({ address, ...p }))
    const otherAddresses = sorted.length - listed.length
    log.warn(
      { event: opts.event, refused: total, seconds: Math.round((Date.now() - since) / 1000), addresses: listed, otherAddresses, untracked },
      opts.msg,
    )
    byAddress = new Map()
    total = 0
    untracked = 0
    since = Date.now()
  }

  return {
    note(address, username, reason) {
      total++
      const key = address ?? 'unknown'
      let p = byAddress.get(key)
      if (!p) {
        if (byAddress.size >= MAX_TRACKED) {
          untracked++
        } else {
          p = { count: 0, reasons: {}, usernames: [] }
          byAddress.set(key, p)
        }
      }
      if (p) {
        p.count++
        p.reasons[reason] = (p.reasons[reason] ?? 0) + 1
        if (username !== undefined && p.usernames.length < USERNAMES_KEPT && !p.usernames.includes(username)) p.usernames.push(username)
      }
      if (!timer) {
        timer = setTimeout(flush, opts.intervalMs ?? 10_000)
        timer.unref()
      }
    },
    flush,
    close: flush,
  }
}
