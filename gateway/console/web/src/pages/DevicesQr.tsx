import { useMemo } from 'preact/hooks'
import { encode } from 'uqr'

/**
 * A QR code drawn as one SVG path made by Preact: no canvas, no innerHTML, no style attribute,
 * so it passes the console's CSP and Trusted Types (gateway/console/plugin.ts). Error correction
 * M, so a phone reads it off a screen at an angle; a 4-module white margin all round, the quiet
 * zone of ISO/IEC 18004:2015, 9.1. Text is encoded as UTF-8 bytes.
 */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { size, d } = useMemo(() => {
    const qr = encode(text, { ecc: 'M', border: 4 })
    let path = ''
    qr.data.forEach((row, y) =>
      row.forEach((dark, x) => {
        if (dark) path += `M${x} ${y}h1v1h-1z`
      }),
    )
    return { size: qr.data.length, d: path }
  }, [text])
  return (
    <svg class="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  )
}
