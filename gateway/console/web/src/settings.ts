import type { TileSettings } from './tiles.ts'

// The gateway's console settings (GET /console.json, gateway/console/plugin.ts), read once.

interface Settings {
  map: { tileUrl: string | null; attribution: string | null; maxZoom: number }
}

let pending: Promise<TileSettings | null> | null = null

/** The map tile server, or null when none is configured (or the settings cannot be read). */
export function loadTiles(): Promise<TileSettings | null> {
  pending ??= fetch('/console.json', { credentials: 'same-origin', headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? (r.json() as Promise<Settings>) : null))
    .then((s) => (s?.map.tileUrl ? { tileUrl: s.map.tileUrl, attribution: s.map.attribution, maxZoom: s.map.maxZoom } : null))
    .catch(() => null)
  return pending
}
