import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { API, api } from './api.ts'
import { loadActive, loadDevices, needsAttention, type Alert, type AlertEvent, type DeviceInfo } from './alerts.ts'
import { parseFrame, publishFrame, setStreamUp } from './frames.ts'
import { chime } from './sound.ts'

// The board's live state: open and acknowledged alerts, kept current by the SSE stream
// (docs/api.md, "Server-Sent Events", `event: alert`). The list is (re)loaded each time the stream
// (re)connects, so nothing that changed while it was down is missed. The same stream carries the
// cameras' analysed frames (`event: detection`), handed to frames.ts for the camera pages.

export interface LiveAlerts {
  alerts: ReadonlyMap<string, Alert>
  loaded: boolean
  live: boolean
  loadError: string | null
  /** New major/critical alerts not yet dismissed, newest first. */
  attention: AlertEvent[]
  dismiss(id: string): void
  /** An alert the server answered with (after ack/resolve): applied at once, not waiting for SSE. */
  apply(alert: Alert): void
  reload(): void
  /** The devices, for the alerts' device fact (empty when the role may not list them). */
  devices: readonly DeviceInfo[]
  /** Bumped on every change, so a page showing one alert can refetch it. */
  version: number
}

const newer = (a: Alert, b: Alert | undefined) => !b || a.updated_at >= b.updated_at

export function useLiveAlerts(): LiveAlerts {
  const [alerts, setAlerts] = useState<Map<string, Alert>>(() => new Map())
  const [loaded, setLoaded] = useState(false)
  const [live, setLive] = useState(false)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [attention, setAttention] = useState<AlertEvent[]>([])
  const [version, setVersion] = useState(0)
  const [devices, setDevices] = useState<readonly DeviceInfo[]>([])
  // Ids seen resolved: a list fetched before the resolution must not bring them back.
  const gone = useRef(new Map<string, string>())
  const devicesRef = useRef<readonly DeviceInfo[]>([])
  devicesRef.current = devices

  const apply = useCallback((a: Alert) => {
    if (a.state === 'resolved') gone.current.set(a.id, a.updated_at)
    setAlerts((prev) => {
      const cur = prev.get(a.id)
      if (!newer(a, cur)) return prev
      const next = new Map(prev)
      if (a.state === 'resolved') next.delete(a.id)
      else next.set(a.id, a)
      return next
    })
    setVersion((v) => v + 1)
  }, [])

  // Loads overlap (one at mount, one when the stream opens): a list asked earlier that answers
  // later is older and is dropped, or it could take back an alert the newer list holds.
  const loads = useRef({ started: 0, applied: 0 })
  // The same for the device list, also read again when an alert names a device new to the page:
  // the list of the stream's opening, answering after that one, would take its name back.
  const deviceLoads = useRef({ started: 0, applied: 0 })
  const refreshDevices = useCallback(() => {
    const seq = ++deviceLoads.current.started
    // Names are a nicety: without them (or the right to list devices) the device id is shown.
    loadDevices().then(
      (list) => {
        if (seq < deviceLoads.current.applied) return
        deviceLoads.current.applied = seq
        setDevices(list)
      },
      () => {},
    )
  }, [])

  const reload = useCallback(() => {
    refreshDevices()
    const seq = ++loads.current.started
    loadActive().then(
      (list) => {
        if (seq < loads.current.applied) return
        loads.current.applied = seq
        setAlerts((prev) => {
          const next = new Map<string, Alert>()
          for (const a of list) {
            const resolvedAt = gone.current.get(a.id)
            if (resolvedAt && resolvedAt >= a.updated_at) continue
            const cur = prev.get(a.id)
            next.set(a.id, cur && !newer(a, cur) ? cur : a)
          }
          return next
        })
        setLoaded(true)
        setLoadError(null)
      },
      (err: Error) => setLoadError(err.message),
    )
  }, [refreshDevices])

  useEffect(() => {
    let es: EventSource | null = null
    let retry: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    const connect = () => {
      es = new EventSource(`${API}/events?readings=false`)
      es.addEventListener('open', () => {
        setLive(true)
        setStreamUp(true)
        reload()
      })
      es.addEventListener('error', () => {
        setLive(false)
        setStreamUp(false)
        // A refused stream (401 after an idle timeout) is not retried by the browser: ask
        // /auth/me, whose 401 ends the session, and otherwise reconnect after a pause.
        if (es?.readyState === EventSource.CLOSED && !stopped) {
          api.get('/auth/me').catch(() => {})
          retry = setTimeout(connect, 5000)
        }
      })
      es.addEventListener('detection', (ev: MessageEvent<string>) => {
        const f = parseFrame(ev.data)
        if (f) publishFrame(f)
      })
      es.addEventListener('alert', (ev: MessageEvent<string>) => {
        let e: AlertEvent
        try {
          e = JSON.parse(ev.data) as AlertEvent
        } catch {
          return
        }
        apply(e)
        const known = devicesRef.current
        if (e.device ? !known.some((d) => d.id === e.device) : e.station && !known.some((d) => d.station === e.station)) {
          refreshDevices()
        }
        if (needsAttention(e)) {
          setAttention((prev) => [e, ...prev.filter((p) => p.id !== e.id)].slice(0, 5))
          chime(e.severity === 'critical' ? 'critical' : 'major')
        }
      })
    }
    connect()
    // The list at once, beside the stream's connection rather than after it: the board shows
    // without waiting for the stream, and the reload on `open` still catches what changed before
    // the stream was subscribed.
    reload()
    return () => {
      stopped = true
      clearTimeout(retry)
      es?.close()
      setStreamUp(false)
    }
  }, [apply, reload, refreshDevices])

  const dismiss = useCallback((id: string) => setAttention((prev) => prev.filter((p) => p.id !== id)), [])
  return { alerts, loaded, live, loadError, attention, dismiss, apply, reload, devices, version }
}
