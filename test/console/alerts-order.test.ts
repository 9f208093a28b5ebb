import { describe, expect, it } from 'vitest'
import { matches, needsAttention, NO_FILTERS, sortAlerts, type Alert, type AlertEvent } from '../../gateway/console/web/src/alerts.ts'
import { DICTIONARIES } from '../../gateway/console/web/src/strings.ts'

// The board's order and filters (the issue: "newest and most severe first"; filters by kind,
// station, district, severity), and the one dictionary per language.

const alert = (id: string, severity: Alert['severity'], opened: string, more: Partial<Alert> = {}): Alert => ({
  id,
  rule: 'water-level',
  kind: 'water_level',
  severity,
  state: 'open',
  title: id,
  late: false,
  tier: 0,
  opened_at: opened,
  updated_at: opened,
  ...more,
})

describe('the alerts board', () => {
  it('puts the most severe first, and the newest first within a severity', () => {
    const list = [
      alert('minor-new', 'minor', '2026-10-14T09:00:00Z'),
      alert('major-old', 'major', '2026-10-14T07:00:00Z'),
      alert('critical-old', 'critical', '2026-10-14T06:00:00Z'),
      alert('major-new', 'major', '2026-10-14T08:00:00Z'),
      alert('info-newest', 'info', '2026-10-14T10:00:00Z'),
    ]
    expect(sortAlerts(list).map((a) => a.id)).toEqual(['critical-old', 'major-new', 'major-old', 'minor-new', 'info-newest'])
  })

  it('filters by kind, station, district and severity together', () => {
    const a = alert('a', 'major', '2026-10-14T08:00:00Z', { station: 'kim-long', district: 'Phú Xuân' })
    const b = alert('b', 'minor', '2026-10-14T08:00:00Z', { kind: 'rainfall', station: 'phu-oc', district: 'Quảng Điền' })
    expect([a, b].filter((x) => matches(x, NO_FILTERS)).map((x) => x.id)).toEqual(['a', 'b'])
    expect([a, b].filter((x) => matches(x, { ...NO_FILTERS, kind: 'rainfall' })).map((x) => x.id)).toEqual(['b'])
    expect([a, b].filter((x) => matches(x, { ...NO_FILTERS, station: 'kim-long' })).map((x) => x.id)).toEqual(['a'])
    expect([a, b].filter((x) => matches(x, { ...NO_FILTERS, district: 'Quảng Điền' })).map((x) => x.id)).toEqual(['b'])
    expect([a, b].filter((x) => matches(x, { ...NO_FILTERS, severity: 'major', station: 'phu-oc' }))).toEqual([])
  })

  it('calls for attention on a new or raised major or critical alert only', () => {
    const ev = (severity: Alert['severity'], action: AlertEvent['change']['action'], state: Alert['state'] = 'open'): AlertEvent => ({
      ...alert('x', severity, '2026-10-14T08:00:00Z', { state }),
      change: { seq: 1, at: '2026-10-14T08:00:00Z', action, severity, state, by: 'system' },
    })
    expect(needsAttention(ev('major', 'opened'))).toBe(true)
    expect(needsAttention(ev('critical', 'raised'))).toBe(true)
    expect(needsAttention(ev('minor', 'opened'))).toBe(false)
    expect(needsAttention(ev('major', 'lowered'))).toBe(false)
    expect(needsAttention(ev('critical', 'escalated'))).toBe(false)
    expect(needsAttention(ev('major', 'acknowledged', 'acknowledged'))).toBe(false)
  })
})

describe('the dictionaries', () => {
  it('hold the same keys, none empty, with the labels the issue names', () => {
    expect(Object.keys(DICTIONARIES.en).sort()).toEqual(Object.keys(DICTIONARIES.vi).sort())
    for (const [lang, dict] of Object.entries(DICTIONARIES)) {
      for (const [key, text] of Object.entries(dict)) expect(text.trim(), `${lang} ${key}`).not.toBe('')
    }
    expect([DICTIONARIES.vi['login.username'], DICTIONARIES.vi['login.password']]).toEqual(['Tên đăng nhập', 'Mật khẩu'])
    expect([DICTIONARIES.en['login.username'], DICTIONARIES.en['login.password']]).toEqual(['Username', 'Password'])
    expect([DICTIONARIES.vi['alert.ack'], DICTIONARIES.vi['alert.resolve']]).toEqual(['Xác nhận', 'Đã xử lý'])
    expect([DICTIONARIES.en['alert.ack'], DICTIONARIES.en['alert.resolve']]).toEqual(['Acknowledge', 'Resolve'])
    // Vietnamese text is stored precomposed (NFC), as typed and as the fonts expect.
    for (const text of Object.values(DICTIONARIES.vi)) expect(text).toBe(text.normalize('NFC'))
  })
})
