// Map tiles under the Stations map (docs/console.md, "Map tiles"): the XYZ scheme of OpenStreetMap
// ("slippy map tilenames"): Web Mercator (EPSG:3857), 256 px tiles, 2^z of them across at zoom z.
// A few lines of arithmetic rather than Leaflet or MapLibre: the map is one fixed view of a
// province's tens of stations, drawn in the same SVG as its markers (links with accessible names);
// a map library would add some 40 KB (Leaflet) to 200 KB (MapLibre) of gzipped script and its own
// DOM, styles and keyboard model for panning that this view does not need.

export const TILE = 256

export interface TileSettings {
  tileUrl: string
  attribution: string | null
  maxZoom: number
}

/** World pixel coordinates of a point at zoom z (0..256·2^z, y down). */
export function project(lat: number, lon: number, z: number): { x: number; y: number } {
  const n = TILE * 2 ** z
  // Web Mercator stops at ±85.0511° (where the world becomes square).
  const phi = (Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI) / 180
  return {
    x: ((lon + 180) / 360) * n,
    y: ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * n,
  }
}

/** The largest zoom (up to maxZoom) at which all points fit in width x height pixels. */
export function fitZoom(points: Array<{ lat: number; lon: number }>, width: number, height: number, maxZoom: number): number {
  for (let z = maxZoom; z > 0; z--) {
    const px = points.map((p) => project(p.lat, p.lon, z))
    const xs = px.map((p) => p.x)
    const ys = px.map((p) => p.y)
    if (Math.max(...xs) - Math.min(...xs) <= width && Math.max(...ys) - Math.min(...ys) <= height) return z
  }
  return 0
}

export interface PlacedTile {
  key: string
  href: string
  /** Position in the view, px. */
  x: number
  y: number
}

/** The tiles covering a view of width x height px whose top-left corner is world pixel (left, top). */
export function tilesFor(template: string, z: number, left: number, top: number, width: number, height: number): PlacedTile[] {
  const n = 2 ** z
  const out: PlacedTile[] = []
  for (let ty = Math.floor(top / TILE); ty <= Math.floor((top + height - 1) / TILE); ty++) {
    if (ty < 0 || ty >= n) continue
    for (let tx = Math.floor(left / TILE); tx <= Math.floor((left + width - 1) / TILE); tx++) {
      // Across the antimeridian the tile numbers wrap; the drawing position does not.
      const wx = ((tx % n) + n) % n
      const href = template.replaceAll('{z}', String(z)).replaceAll('{x}', String(wx)).replaceAll('{y}', String(ty))
      out.push({ key: `${z}/${tx}/${ty}`, href, x: tx * TILE - left, y: ty * TILE - top })
    }
  }
  return out
}
