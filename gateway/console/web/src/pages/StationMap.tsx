import { useI18n } from '../i18n.ts'
import { navigate } from '../router.ts'

// The stations on a plain SVG background, placed by their coordinates: it works with no internet
// and no tile server. Each marker carries its level in words, never in colour alone (WCAG 1.4.1).

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

export function StationMap({ places }: { places: MapPlace[] }) {
  const { t } = useI18n()
  if (places.length === 0) return null
  const lats = places.map((p) => p.lat)
  const lons = places.map((p) => p.lon)
  // Equirectangular with the longitude scaled by cos(latitude): true shapes at Huế's latitude.
  const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180)
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 0.02)
  const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 0.02)
  const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY)
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2
  const cy = (Math.min(...lats) + Math.max(...lats)) / 2
  const x = (lon: number) => W / 2 + (lon - cx) * k * scale
  const y = (lat: number) => H / 2 - (lat - cy) * scale
  return (
    <svg class="station-map" viewBox={`0 0 ${W} ${H}`} role="group" aria-label={t('stations.map')}>
      <rect class="map-bg" x="0" y="0" width={W} height={H} />
      {places.map((p) => {
        const href = `/stations/${encodeURIComponent(p.id)}`
        const label = t('stations.marker', { name: p.name, level: p.level || t('stations.noLevel') })
        const px = x(p.lon)
        const py = y(p.lat)
        const anchor = px > W / 2 ? 'end' : 'start'
        const dx = anchor === 'end' ? -16 : 16
        return (
          <a key={p.id} href={href} class="map-marker" data-place={p.id} aria-label={label}
            onClick={(e) => { e.preventDefault(); navigate(href) }}>
            <circle class={`dot ${p.cls}`} cx={px} cy={py} r="12" />
            <text x={px + dx} y={py - 4} text-anchor={anchor} class="map-name">{p.name}</text>
            <text x={px + dx} y={py + 20} text-anchor={anchor} class="map-level">{p.level || t('stations.noLevel')}</text>
          </a>
        )
      })}
    </svg>
  )
}
