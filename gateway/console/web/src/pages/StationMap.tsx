import { useI18n } from '../i18n.ts'
import { navigate } from '../router.ts'
import { fitZoom, project, TILE, tilesFor, type TileSettings } from '../tiles.ts'

// The stations placed by their coordinates, on a plain SVG background by default so it works with
// no internet, or over the tiles of the configured tile server (docs/console.md, "Map tiles").
// Each marker carries its level in words, never in colour alone (WCAG 1.4.1).

export interface MapPlace {
  id: string
  name: string
  lat: number
  lon: number
  /** lvl-0..3 or aqi-1..6 (styles.css), '' when there is no level. */
  cls: string
  level: string
}

const W = 600
const H = 400
const PAD = 60

type Projection = { x: (lon: number, lat: number) => number; y: (lat: number, lon: number) => number }

/** Equirectangular with the longitude scaled by cos(latitude): true shapes at Huế's latitude. */
function plain(lats: number[], lons: number[]): Projection {
  const k = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180)
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 0.02)
  const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 0.02)
  const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY)
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2
  const cy = (Math.min(...lats) + Math.max(...lats)) / 2
  return { x: (lon) => W / 2 + (lon - cx) * k * scale, y: (lat) => H / 2 - (lat - cy) * scale }
}

/**
 * Web Mercator at the largest whole zoom where the stations (at least 0.02° apart, as the plain
 * map) fit inside the padding, centred on them; and the tiles under that view.
 */
function mercator(lats: number[], lons: number[], tiles: TileSettings) {
  const half = (lo: number, hi: number) => Math.max((hi - lo) / 2, 0.01)
  const [cLat, cLon] = [(Math.min(...lats) + Math.max(...lats)) / 2, (Math.min(...lons) + Math.max(...lons)) / 2]
  const [hLat, hLon] = [half(Math.min(...lats), Math.max(...lats)), half(Math.min(...lons), Math.max(...lons))]
  const z = fitZoom(
    [
      { lat: cLat - hLat, lon: cLon - hLon },
      { lat: cLat + hLat, lon: cLon + hLon },
    ],
    W - 2 * PAD,
    H - 2 * PAD,
    tiles.maxZoom,
  )
  const c = project(cLat, cLon, z)
  // Whole pixels: tiles placed at fractions show hairline seams between them.
  const left = Math.round(c.x - W / 2)
  const top = Math.round(c.y - H / 2)
  const proj: Projection = { x: (lon, lat) => project(lat, lon, z).x - left, y: (lat, lon) => project(lat, lon, z).y - top }
  return { proj, tiles: tilesFor(tiles.tileUrl, z, left, top, W, H) }
}

export function StationMap({ places, tiles }: { places: MapPlace[]; tiles?: TileSettings | null }) {
  const { t } = useI18n()
  if (places.length === 0) return null
  const lats = places.map((p) => p.lat)
  const lons = places.map((p) => p.lon)
  const m = tiles ? mercator(lats, lons, tiles) : null
  const { x, y } = m ? m.proj : plain(lats, lons)
  return (
    <svg class={m ? 'station-map tiled' : 'station-map'} viewBox={`0 0 ${W} ${H}`} role="group" aria-label={t('stations.map')}>
      <rect class="map-bg" x="0" y="0" width={W} height={H} />
      {m && (
        <g class="map-tiles" aria-hidden="true">
          {/* One unit wider than the grid: scaled to the screen, tiles meeting exactly show hairline seams. */}
          {m.tiles.map((tile) => (
            <image key={tile.key} href={tile.href} x={tile.x} y={tile.y} width={TILE + 1} height={TILE + 1} />
          ))}
        </g>
      )}
      {places.map((p) => {
        const href = `/stations/${encodeURIComponent(p.id)}`
        const label = t('stations.marker', { name: p.name, level: p.level || t('stations.noLevel') })
        const px = x(p.lon, p.lat)
        const py = y(p.lat, p.lon)
        const anchor = px > W / 2 ? 'end' : 'start'
        const dx = anchor === 'end' ? -16 : 16
        return (
          <a
            key={p.id}
            href={href}
            class="map-marker"
            data-place={p.id}
            aria-label={label}
            onClick={(e) => {
              e.preventDefault()
              navigate(href)
            }}
          >
            <circle class={`dot ${p.cls}`} cx={px} cy={py} r="12" />
            <text x={px + dx} y={py - 4} text-anchor={anchor} class="map-name">
              {p.name}
            </text>
            <text x={px + dx} y={py + 20} text-anchor={anchor} class="map-level">
              {p.level || t('stations.noLevel')}
            </text>
          </a>
        )
      })}
    </svg>
  )
}
