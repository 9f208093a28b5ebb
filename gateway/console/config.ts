import Type, { type Static } from 'typebox'

// The console's settings (docs/console.md, "Map tiles"). The console works with no internet: with
// no tile URL the Stations map is the stations on a plain background; with one, the tiles of that
// server are drawn under them and the CSP lets images come from that origin (plugin.ts).

/**
 * An XYZ tile URL template: http(s), its own origin, and the {z}, {x} and {y} placeholders
 * (the OpenStreetMap "slippy map" scheme, Web Mercator EPSG:3857, 256 px tiles). Characters that
 * could end a CSP source expression (space, `;`, `,`, quotes) are refused in the origin.
 */
export const TILE_URL_PATTERN = '^https?://[^/\\s;,\'"]+/(?=.*\\{z\\})(?=.*\\{x\\})(?=.*\\{y\\})\\S*$'

export const ConsoleSection = Type.Object(
  {
    mapTileUrl: Type.Optional(
      Type.String({
        pattern: TILE_URL_PATTERN,
        maxLength: 500,
        description: 'Tile URL template with {z}, {x}, {y}, e.g. https://tile.example.vn/{z}/{x}/{y}.png; none by default',
      }),
    ),
    /** Shown under the map, as the tile provider's licence usually requires. */
    mapAttribution: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** The highest zoom level the tile server has. */
    mapMaxZoom: Type.Integer({ minimum: 0, maximum: 22, default: 18 }),
  },
  { additionalProperties: false, default: {} },
)

export type ConsoleConfig = Static<typeof ConsoleSection>

/** The tile server's origin (scheme, host, port), for the CSP's img-src; null with no tiles. */
export function tileOrigin(cfg: Pick<ConsoleConfig, 'mapTileUrl'> | undefined): string | null {
  if (!cfg?.mapTileUrl) return null
  return new URL(cfg.mapTileUrl.replace(/\{[zxy]\}/g, '0')).origin
}
