import { describe, expect, it } from 'vitest'
import type { Alert, AlertChange, AlertKind, ChangeAction } from '../../gateway/alerts/types.ts'
import { gsm7Length, toGsm7, unaccent } from '../../gateway/notify/gsm7.ts'
import { digestMessage, renderSms, renderZaloText, testMessage, znsAlertData } from '../../gateway/notify/templates.ts'
import { stations } from '../alerts/helpers.ts'

const ctx = { sender: 'IOC Hue', stations: stations() }

function change(kind: AlertKind, over: Partial<Alert>, action: ChangeAction = 'raised', late = true): AlertChange {
  const alert: Alert = {
    id: 'a0123456789abcdef',
    rule: 'r',
    kind,
    severity: 'critical',
    level: 3,
    state: 'open',
    title: 'Thượng Nhật (sông Tả Trạch): mực nước 63,45 m, vượt báo động III',
    late,
    opened_at: '2026-11-20T00:00:00.000Z',
    updated_at: '2026-11-20T00:00:00.000Z',
    tier: 1,
    history: [],
    ...over,
  }
  return {
    alert,
    change: {
      seq: 2,
      at: '2026-11-20T23:59:00.000Z',
      event_ts: '2026-11-20T23:59:00.000Z',
      action,
      severity: alert.severity,
      level: alert.level,
      state: alert.state,
      by: 'system',
      late,
    },
  }
}

const LONG_ID = `cam-${'x'.repeat(60)}`
const LONG_ZONE = `zone-${'y'.repeat(59)}`

// Longest realistic values per kind: the longest station names and rivers of stations.yaml, large
// values, 64-character device and zone ids, the longest action word, and the late marker.
const CASES: Array<[string, AlertChange]> = [
  ['water_level', change('water_level', { station: 'thuong-nhat', value: 163.45, threshold: 163.0 }, 'escalated')],
  ['water_level unknown station', change('water_level', { station: `s-${'z'.repeat(62)}`, value: 12.34, threshold: 3.5 }, 'escalated')],
  ['rise_rate', change('rise_rate', { station: 'thuong-nhat', value: 12.345, threshold: 0.3 }, 'escalated')],
  ['rainfall', change('rainfall', { station: 'thuong-nhat', value: 1234.5, threshold: 400 }, 'escalated')],
  ['aqi', change('aqi', { station: 'thuong-nhat', value: 500 }, 'escalated')],
  ['silence', change('silence', { device: LONG_ID, value: 7 * 86400 }, 'escalated')],
  ['congestion', change('congestion', { device: LONG_ID, zone: LONG_ZONE, value: 3 }, 'escalated')],
  ['water_in_zone', change('water_in_zone', { device: LONG_ID, zone: LONG_ZONE, value: 1 }, 'escalated')],
]

describe('message templates', () => {
  it('drops Vietnamese diacritics, đ/Đ to d/D', () => {
    expect(unaccent('Đường Lê Lợi, phường Phú Hội: lũ đặc biệt lớn')).toBe('Duong Le Loi, phuong Phu Hoi: lu dac biet lon')
    expect(toGsm7('Thượng Nhật – sông Tả Trạch')).toBe('Thuong Nhat ? song Ta Trach')
  })

  it.each(CASES)('SMS for %s at its longest is one GSM-7 message of at most 160 characters', (_name, c) => {
    for (const action of ['opened', 'raised', 'lowered', 'resolved', 'escalated'] as const) {
      const text = renderSms({ ...c, change: { ...c.change, action } }, ctx)
      const n = gsm7Length(text)
      expect(n, text).toBeDefined()
      expect(n!, text).toBeLessThanOrEqual(160)
      expect(text).not.toMatch(/[^\x20-\x7e]/)
    }
  })

  it('a water-level SMS says the level, station, value, threshold and time in Vietnam time', () => {
    const text = renderSms(
      change('water_level', { station: 'kim-long', value: 2.15, threshold: 2, level: 2, severity: 'major' }, 'raised', false),
      ctx,
    )
    expect(text).toBe('IOC Hue: TANG MUC - BAO DONG II Kim Long (song Huong): 2,15 m (nguong 2,00 m). luc 06:59 21/11')
  })

  it('Zalo text is full Vietnamese; ZNS data fits its parameters', () => {
    const c = change('water_level', { station: 'thuong-nhat', value: 63.45, threshold: 63 }, 'escalated')
    const text = renderZaloText(c, ctx)
    expect(text).toContain('Thượng Nhật (sông Tả Trạch): mực nước 63,45 m, vượt báo động III')
    expect(text).toContain('Chưa được xác nhận')
    expect(text).toContain('Dữ liệu gửi trễ')
    const data = znsAlertData(c, ctx)
    expect(data.place).toBe('Thượng Nhật (sông Tả Trạch)')
    for (const v of Object.values(data)) expect(v.length).toBeLessThanOrEqual(200)
  })

  it('digest and test SMS also fit one message with long names', () => {
    const items = Array.from({ length: 40 }, () => ({ severity: 'major' as const, summary: toGsm7(CASES[0]![1].alert.title) }))
    const d = digestMessage(items, 900, 'sms', ctx, '2026-11-20T00:00:00Z').text
    expect(gsm7Length(d)!).toBeLessThanOrEqual(160)
    const t = testMessage(
      'Nguyễn Thị Phương Thảo Trưởng phòng Điều hành Giám sát Đô thị Thông minh',
      'sms',
      ctx,
      '2026-11-20T00:00:00Z',
    ).text
    expect(gsm7Length(t)!).toBeLessThanOrEqual(160)
    expect(t).toContain('Nguyen Thi Phuong')
  })
})
