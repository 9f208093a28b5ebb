import { create } from 'qrcode'
import { useMemo } from 'preact/hooks'

const QUIET = 4 // modules of white margin all round (ISO/IEC 18004:2015, 9.1: quiet zone)

/**
 * A QR code drawn as one SVG path made by Preact: no canvas, no innerHTML, no style attribute,
 * so it passes the console's CSP and Trusted Types (gateway/console/plugin.ts). Error
 * correction M: a phone reads it off a screen at an angle.
 */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { size, d } = useMemo(() => {
    const m = create(text, { errorCorrectionLevel: 'M' }).modules
    let path = ''
    for (let row = 0; row < m.size; row++) {
      for (let col = 0; col < m.size; col++) {
        if (m.get(row, col)) path += `M${col + QUIET} ${row + QUIET}h1v1h-1z`
      }
    }
    return { size: m.size + 2 * QUIET, d: path }
  }, [text])
  return (
    <svg class="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  )
}
