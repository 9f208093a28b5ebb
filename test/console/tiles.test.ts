import Value from 'typebox/value'
import { describe, expect, it } from 'vitest'
import { ConsoleSection, tileOrigin } from '../../gateway/console/config.ts'
import { consoleCsp } from '../../gateway/console/plugin.ts'
import { fitZoom, project, tilesFor } from '../../gateway/console/web/src/tiles.ts'

// The Stations map's tile arithmetic (gateway/console/web/src/tiles.ts) against the tile numbers of
// the OpenStreetMap wiki's "Slippy map tilenames" formula, written the other way round
// (asinh(tan φ)); and the config key's checks (docs/console.md, "Map tiles").

const osmTile = (lat: number, lon: number, z: number) => {
  const n = 2 ** z
  const phi = (lat * Math.PI) / 180
  return { x: Math.floor(((lon + 180) / 360) * n), y: Math.floor(((1 - Math.asinh(Math.tan(phi)) / Math.PI) / 2) * n) }
}

describe('map tiles', () => {
  it('projects to the tile numbers of the slippy-map formula', () => {
    expect(project(0, 0, 0)).toEqual({ x: 128, y: 128 })
    for (const [lat, lon] of [
      [16.4637, 107.5606],
      [16.542, 107.487],
      [21.0285, 105.8542],
      [-33.8688, 151.2093],
    ] as const) {
      for (const z of [5, 10, 13, 17]) {
        const p = project(lat, lon, z)
        expect({ x: Math.floor(p.x / 256), y: Math.floor(p.y / 256) }).toEqual(osmTile(lat, lon, z))
      }
    }
  })

  it('fits the stations in the view at the largest whole zoom, and lists the tiles covering it', () => {
    const pts = [
      { lat: 16.4637, lon: 107.5606 },
      { lat: 16.542, lon: 107.487 },
    ]
    const z = fitZoom(pts, 480, 280, 18)
    const span = (zz: number) => {
      const [a, b] = pts.map((p) => project(p.lat, p.lon, zz))
      return { w: Math.abs(a!.x - b!.x), h: Math.abs(a!.y - b!.y) }
    }
    expect(span(z).w <= 480 && span(z).h <= 280).toBe(true)
    expect(span(z + 1).w > 480 || span(z + 1).h > 280).toBe(true)
    expect(fitZoom(pts, 480, 280, 9)).toBe(9)
    const list = tilesFor('https://tile.example.vn/{z}/{x}/{y}.png', 12, 3200 * 256 + 100, 1800 * 256 + 10, 600, 400)
    expect(list.map((t) => t.href)).toEqual([
      ...[3200, 3201, 3202].map((x) => `https://tile.example.vn/12/${x}/1800.png`),
      ...[3200, 3201, 3202].map((x) => `https://tile.example.vn/12/${x}/1801.png`),
    ])
    expect(list[0]).toMatchObject({ x: -100, y: -10 })
  })

  it('takes a tile URL with {z}, {x} and {y} on http(s) only, and allows images from its origin alone', () => {
    const ok = (mapTileUrl: string) => Value.Check(ConsoleSection, { mapTileUrl, mapMaxZoom: 18 })
    expect(ok('https://tile.example.vn/{z}/{x}/{y}.png')).toBe(true)
    expect(ok('http://10.0.0.5:8080/osm/{z}/{x}/{y}.png?k=1')).toBe(true)
    expect(ok('https://tile.example.vn/{z}/{x}.png')).toBe(false)
    expect(ok('javascript:alert(1)//{z}{x}{y}')).toBe(false)
    expect(ok("https://a.vn;script-src 'unsafe-inline'/{z}/{x}/{y}")).toBe(false)
    expect(ok('https://tile.example.vn/{z}/{x}/{y}.png ')).toBe(false)
    expect(tileOrigin({ mapTileUrl: 'http://10.0.0.5:8080/osm/{z}/{x}/{y}.png' })).toBe('http://10.0.0.5:8080')
    expect(tileOrigin({})).toBeNull()
    expect(consoleCsp(null)).toContain("img-src 'self';")
    expect(consoleCsp('http://10.0.0.5:8080')).toContain("img-src 'self' http://10.0.0.5:8080;")
    expect(consoleCsp('http://10.0.0.5:8080')).toContain("connect-src 'self';")
  })
})
