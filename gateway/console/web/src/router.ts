import { useEffect, useState } from 'preact/hooks'

// The console's few client routes, on the History API (the gateway answers index.html for them,
// gateway/console/plugin.ts): `/` the alerts board, `/alerts/:id` one alert's history,
// `/devices` the devices, `/stations` the map and list of stations, `/stations/:id` one station's
// (or device's) chart, `/cameras` the camera grid, `/cameras/:id` one camera with its zone editor,
// `/notifications` contacts and the outbox, `/reports` the printable situation report, `/webhooks` (admins) the webhook subscriptions.

export type Route =
  | { page: 'board' }
  | { page: 'alert'; id: string }
  | { page: 'devices' }
  | { page: 'stations' }
  | { page: 'station'; id: string }
  | { page: 'cameras' }
  | { page: 'camera'; id: string }
  | { page: 'notifications' }
  | { page: 'reports' }
  | { page: 'webhooks' }

export function parse(path: string): Route {
  const m = /^\/alerts\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path)
  if (m) return { page: 'alert', id: m[1] as string }
  if (/^\/devices\/?$/.test(path)) return { page: 'devices' }
  if (/^\/stations\/?$/.test(path)) return { page: 'stations' }
  const st = /^\/stations\/([a-z0-9][a-z0-9-]{0,63})\/?$/.exec(path)
  if (st) return { page: 'station', id: st[1] as string }
  if (/^\/cameras\/?$/.test(path)) return { page: 'cameras' }
  if (/^\/webhooks\/?$/.test(path)) return { page: 'webhooks' }
  const c = /^\/cameras\/([a-z0-9][a-z0-9-]{2,63})\/?$/.exec(path)
  if (c) return { page: 'camera', id: c[1] as string }
  if (/^\/notifications\/?$/.test(path)) return { page: 'notifications' }
  if (/^\/reports\/?$/.test(path)) return { page: 'reports' }
  return { page: 'board' }
}

export function navigate(path: string): void {
  if (location.pathname === path) return
  history.pushState(null, '', path)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname))
  useEffect(() => {
    const on = () => setRoute(parse(location.pathname))
    window.addEventListener('popstate', on)
    return () => window.removeEventListener('popstate', on)
  }, [])
  return route
}
