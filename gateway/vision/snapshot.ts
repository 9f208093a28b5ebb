import type { Metrics } from '../metrics/registry.ts'
import type { Snapshot } from './pipeline.ts'
import { countZones, isVehicle, toPixels } from './zones.ts'

const COLOURS: Record<string, string> = { car: '#00e676', motorcycle: '#ffea00', bus: '#ff9100', truck: '#ff1744', bicycle: '#00b0ff' }

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * Each analysed frame's drawn JPEG, rendered on the first request for it and then served from
 * memory: drawing means decoding the frame at full size, and a client polling the snapshot (or
 * many clients) must not cost one decode each (docs/operations.md, Security). One entry per
 * camera's latest analysed frame; a newer frame replaces the snapshot object and so the entry.
 */
export class SnapshotCache {
  private readonly rendered = new WeakMap<Snapshot, Promise<Buffer>>()
  private readonly renders

  constructor(
    metrics: Metrics,
    private readonly opts: { scoreThreshold: number; countThreshold: number; maxPixels?: number | undefined },
  ) {
    this.renders = metrics.counter('vision_snapshot_renders_total', 'Snapshots drawn (once per analysed frame that was asked for)')
  }

  get(s: Snapshot): Promise<Buffer> {
    let p = this.rendered.get(s)
    if (!p) {
      this.renders.inc()
      p = renderSnapshot(s, this.opts.scoreThreshold, this.opts.countThreshold, this.opts.maxPixels)
      this.rendered.set(s, p)
      // A failed render is not kept: the next request tries again.
      p.catch(() => this.rendered.delete(s))
    }
    return p
  }
}

/** The analysed frame with boxes, labels and zone outlines, as a JPEG (an SVG overlay composited by sharp). */
export async function renderSnapshot(s: Snapshot, scoreThreshold: number, countThreshold = 0, maxPixels?: number): Promise<Buffer> {
  const { width: w, height: h } = s
  const stroke = Math.max(2, Math.round(Math.min(w, h) / 300))
  const font = Math.max(12, Math.round(Math.min(w, h) / 40))
  const parts: string[] = []
  for (const z of [...countZones(s.config.zones), ...s.config.zones.filter((z) => z.kind === 'flood')]) {
    const pts = toPixels(z.polygon, w, h)
      .map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`)
      .join(' ')
    const colour = z.kind === 'flood' ? '#2979ff' : '#ffffff'
    parts.push(
      `<polygon points="${pts}" fill="none" stroke="${colour}" stroke-width="${stroke}" stroke-dasharray="${stroke * 4},${stroke * 2}"/>`,
    )
    const [x0, y0] = toPixels(z.polygon, w, h)[0]!
    parts.push(
      `<text x="${x0 + 4}" y="${y0 + font}" font-size="${font}" font-family="sans-serif" fill="${colour}" stroke="#000" stroke-width="0.5">${esc(z.id)}</text>`,
    )
  }
  for (const o of s.objects) {
    if (o.score < scoreThreshold) continue
    const [x1, y1, x2, y2] = o.box
    const colour = isVehicle(o.class) ? COLOURS[o.class]! : '#bdbdbd'
    // Objects below the counting threshold are drawn dashed: seen, but not counted.
    const dash = o.score < countThreshold ? ` stroke-dasharray="${stroke * 3},${stroke * 2}"` : ''
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${(x2 - x1).toFixed(1)}" height="${(y2 - y1).toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"${dash}/>`,
    )
    const label = `${o.class} ${o.score.toFixed(2)}`
    const ty = Math.max(font, y1 - 2)
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${(ty - font).toFixed(1)}" width="${(label.length * font * 0.6).toFixed(1)}" height="${font + 2}" fill="${colour}" fill-opacity="0.75"/>`,
    )
    parts.push(
      `<text x="${(x1 + 2).toFixed(1)}" y="${(ty - 2).toFixed(1)}" font-size="${font}" font-family="sans-serif" fill="#000">${esc(label)}</text>`,
    )
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`
  // Imported on first use: libvips costs the process ~25 MB of RSS, which a gateway whose cameras
  // nobody looks at need not hold (the workers load their own).
  const { default: sharp } = await import('sharp')
  return sharp(s.jpeg, { autoOrient: true, ...(maxPixels ? { limitInputPixels: maxPixels } : {}) })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: 80 })
    .toBuffer()
}
