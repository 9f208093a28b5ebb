// Line protocol for the measurements a capability not yet wired into the gateway would write,
// following docs/data-model.md exactly (tags, field names and types, event time in ms). Used only
// for a measurement the real pipeline left empty; the query test says which ones it filled so.

const esc = (s: string) => s.replace(/[ ,=]/g, (c) => `\\${c}`)
const str = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`

export function detectionLines(now: number): string[] {
  const lines: string[] = []
  const zones = ['north', 'south']
  for (let i = 0; i < 30; i++) {
    const t = now - (30 - i) * 30_000
    zones.forEach((zone, z) => {
      const car = 3 + ((i + z) % 5)
      const moto = 12 + ((i * 3 + z) % 9)
      const occupancy = Math.min(1, (car * 4 + moto) / 60)
      const congestion = occupancy > 0.6 ? 2 : occupancy > 0.4 ? 1 : 0
      lines.push(
        `detections,camera=cam-cau-truong-tien,zone=${zone},station=kim-long,district=${esc('Thành phố Huế')} car=${car}i,motorcycle=${moto}i,bus=${i % 7 === 0 ? 1 : 0}i,truck=${i % 4 === 0 ? 1 : 0}i,bicycle=${i % 3 === 0 ? 1 : 0}i,occupancy=${occupancy.toFixed(3)},congestion=${congestion} ${t}`,
      )
    })
    lines.push(`detections,camera=cam-cau-truong-tien,zone=flood,station=kim-long,district=${esc('Thành phố Huế')} water_ratio=${(0.1 + i / 100).toFixed(3)} ${t}`)
  }
  return lines
}

export function alertLines(now: number): string[] {
  // As the alert engine writes them (gateway/alerts/engine.ts): `level` only on level alerts.
  const a = (t: number, tags: Record<string, string>, id: string, title: string, level: number | null, value: number, threshold: number) =>
    `alerts,${Object.entries(tags)
      .map(([k, v]) => `${k}=${esc(v)}`)
      .join(',')} id=${str(id)},title=${str(title)},text=${str(`opened: ${title}`)}${level === null ? '' : `,level=${level}`},value=${value},threshold=${threshold} ${t}`
  return [
    a(now - 3 * 3_600_000, { kind: 'water_level', rule: 'water-level', severity: 'minor', state: 'open', station: 'kim-long', device: 'gauge-kim-long' }, 'al-1', 'Kim Long: báo động I', 1, 1.02, 1),
    a(now - 2 * 3_600_000, { kind: 'water_level', rule: 'water-level', severity: 'major', state: 'open', station: 'kim-long', device: 'gauge-kim-long' }, 'al-1', 'Kim Long: báo động II', 2, 2.05, 2),
    a(now - 3_600_000, { kind: 'rise_rate', rule: 'rise-rate', severity: 'major', state: 'acknowledged', station: 'kim-long', device: 'gauge-kim-long' }, 'al-2', 'Kim Long: nước lên nhanh', null, 0.42, 0.3),
    a(now - 1_800_000, { kind: 'aqi', rule: 'aqi-band', severity: 'minor', state: 'open', station: 'hue-le-loi', device: 'aq-hue-le-loi' }, 'al-3', 'AQI Trung bình', null, 64, 51),
    a(now - 1_200_000, { kind: 'congestion', rule: 'congestion', severity: 'minor', state: 'open', station: 'kim-long', device: 'cam-cau-truong-tien' }, 'al-4', 'Ùn ứ cầu Trường Tiền', null, 2, 2),
    a(now - 600_000, { kind: 'silence', rule: 'silence', severity: 'info', state: 'resolved', station: 'kim-long', device: 'rain-kim-long' }, 'al-5', 'Trạm mưa im lặng', null, 0, 0),
  ]
}
