import { ROMAN, type Stations } from '../domain/stations.ts'
import type { Alert, AlertChange, ChangeAction, Severity } from '../alerts/types.ts'
import { AQI_BANDS } from '../domain/vn-aqi.ts'
import { SMS_MAX, gsm7Length, toGsm7 } from './gsm7.ts'
import type { OutgoingMessage } from './types.ts'

// Message texts. Zalo carries full Vietnamese; SMS goes unaccented in ONE GSM-7 message of at
// most 160 characters (a split message may arrive in pieces or out of order on some handsets).

const ACTION_VI: Record<ChangeAction | 'test', string> = {
  opened: 'Cảnh báo mới',
  raised: 'Tăng mức',
  lowered: 'Giảm mức',
  resolved: 'Hết cảnh báo',
  acknowledged: 'Đã xác nhận',
  escalated: 'Chưa được xác nhận',
  test: 'Tin thử',
}
const SEVERITY_VI: Record<Severity, string> = { info: 'Thông tin', minor: 'Thấp', major: 'Cao', critical: 'Khẩn cấp' }
const STATE_VI = { open: 'Đang mở', acknowledged: 'Đã xác nhận', resolved: 'Đã kết thúc' } as const

/** Event time in Vietnam (UTC+7, no daylight saving): "14:05 28/11". */
export function vnTime(iso: string, withYear = false): string {
  const d = new Date(Date.parse(iso) + 7 * 3_600_000)
  const p = (n: number) => String(n).padStart(2, '0')
  const base = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())} ${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}`
  return withYear ? `${base}/${d.getUTCFullYear()}` : base
}

const num = (v: number | undefined, digits = 2) => (v === undefined ? '?' : v.toFixed(digits).replace('.', ','))

function place(a: Alert, stations: Stations | undefined): string {
  if (a.station) {
    const st = stations?.get(a.station)
    if (st) return st.river ? `${st.name} (${st.river})` : st.name
    return a.station
  }
  return a.zone ? `${a.device ?? ''} vùng ${a.zone}` : (a.device ?? '')
}

/** The kind-specific part of an SMS, around a place name that may be shortened to fit. */
function smsBody(a: Alert, level: number | undefined): { before: string; place: string; after: string } {
  const lv = level ?? a.level ?? 0
  switch (a.kind) {
    case 'water_level':
      return { before: `BAO DONG ${ROMAN[lv] ?? lv} `, place: '', after: `: ${num(a.value)} m (nguong ${num(a.threshold)} m)` }
    case 'rise_rate':
      return { before: 'NUOC LEN NHANH ', place: '', after: `: ${num(a.value)} m/h (nguong ${num(a.threshold)})` }
    case 'rainfall':
      return { before: 'MUA LON ', place: '', after: `: ${num(a.value, 1)} mm (nguong ${num(a.threshold, 0)} mm)` }
    case 'aqi': {
      const band = [...AQI_BANDS].reverse().find((b) => (a.value ?? 0) >= b.min)
      return { before: `KHONG KHI ${band ? band.vi : ''} `, place: '', after: `: VN_AQI ${Math.round(a.value ?? 0)}` }
    }
    case 'silence':
      return { before: 'MAT TIN HIEU ', place: '', after: `: ${Math.round((a.value ?? 0) / 60)} phut` }
    case 'congestion':
      return { before: `UN TAC MUC ${lv} camera `, place: '', after: '' }
    case 'water_in_zone':
      return { before: `NGAP ${Math.round((a.value ?? 0) * 100)}% camera `, place: '', after: '' }
    case 'webhook':
      return { before: 'WEBHOOK BI TAT', place: '', after: '' }
  }
}

/** Fits `head + before + place + after + tail` into 160 GSM-7 characters by shortening the place. */
function fit(parts: string[], placeIndex: number): string {
  const ascii = parts.map(toGsm7)
  const fixed = ascii.reduce((n, p, i) => (i === placeIndex ? n : n + (gsm7Length(p) ?? p.length)), 0)
  const room = SMS_MAX - fixed
  let pl = ascii[placeIndex] ?? ''
  if (pl.length > room) pl = pl.slice(0, Math.max(0, room)).trimEnd()
  ascii[placeIndex] = pl
  let text = ascii.join('')
  // Fixed parts are short by construction; this only guards a misconfigured sender name.
  if ((gsm7Length(text) ?? SMS_MAX + 1) > SMS_MAX) text = text.slice(0, SMS_MAX)
  return text
}

export interface RenderContext {
  sender: string
  stations?: Stations | undefined
}

export function renderSms(c: AlertChange, ctx: RenderContext): string {
  const a = c.alert
  const b = smsBody(a, c.change.action === 'resolved' ? a.level : c.change.level)
  const plc = place(a, ctx.stations)
  const action = toGsm7(ACTION_VI[c.change.action]).toUpperCase()
  const tail = ` luc ${vnTime(c.change.event_ts ?? c.change.at)}${c.change.late ? ' (du lieu tre)' : ''}`
  return fit([`${ctx.sender}: ${action} - ${b.before}`, plc, `${b.after}.${tail}`], 1)
}

export function renderZaloText(c: AlertChange, ctx: RenderContext): string {
  const a = c.alert
  const lines = [
    `${ctx.sender}: ${ACTION_VI[c.change.action]}`,
    a.title,
    `Thời điểm: ${vnTime(c.change.event_ts ?? c.change.at, true)} (giờ Việt Nam)`,
    `Mức độ: ${SEVERITY_VI[a.severity]}`,
    `Trạng thái: ${STATE_VI[a.state]}`,
  ]
  if (c.change.action === 'escalated') lines.push('Cảnh báo chưa được xác nhận, đề nghị kiểm tra và xử lý.')
  if (c.change.late) lines.push('Dữ liệu gửi trễ sau khi mất kết nối.')
  lines.push(`Mã cảnh báo: ${a.id}`)
  return lines.join('\n')
}

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`)

/** Data for the registered ZNS template `alert` (parameters and their lengths as registered). */
export function znsAlertData(c: AlertChange, ctx: RenderContext): Record<string, string> {
  const a = c.alert
  return {
    action: clip(ACTION_VI[c.change.action], 30),
    place: clip(place(a, ctx.stations), 100),
    detail: clip(a.title, 200),
    severity: SEVERITY_VI[a.severity],
    time: vnTime(c.change.event_ts ?? c.change.at, true),
    alert_id: a.id,
  }
}

export function alertMessage(
  c: AlertChange,
  channel: 'sms' | 'zalo_zns' | 'zalo_oa',
  ctx: RenderContext,
): Pick<OutgoingMessage, 'text' | 'template'> {
  if (channel === 'sms') return { text: renderSms(c, ctx) }
  if (channel === 'zalo_oa') return { text: renderZaloText(c, ctx) }
  return { text: renderZaloText(c, ctx), template: { name: 'alert', data: znsAlertData(c, ctx) } }
}

export function digestMessage(
  items: Array<{ severity: Severity; summary: string }>,
  windowS: number,
  channel: 'sms' | 'zalo_zns' | 'zalo_oa',
  ctx: RenderContext,
  at: string,
): Pick<OutgoingMessage, 'text' | 'template'> {
  const order: Severity[] = ['critical', 'major', 'minor', 'info']
  const top = [...items].sort((x, y) => order.indexOf(x.severity) - order.indexOf(y.severity))[0]
  const minutes = Math.round(windowS / 60)
  if (channel === 'sms') {
    return {
      text: fit(
        [
          `${ctx.sender}: TONG HOP ${items.length} canh bao trong ${minutes} phut. Nang nhat: `,
          top?.summary ?? '',
          '. Xem bang dieu khien IOC.',
        ],
        1,
      ),
    }
  }
  const text = [
    `${ctx.sender}: Tổng hợp ${items.length} cảnh báo trong ${minutes} phút`,
    ...items.slice(0, 10).map((i) => `- ${i.summary}`),
    items.length > 10 ? `… và ${items.length - 10} cảnh báo khác` : '',
  ]
    .filter(Boolean)
    .join('\n')
  if (channel === 'zalo_oa') return { text }
  return {
    text,
    template: {
      name: 'alert',
      data: {
        action: 'Tổng hợp',
        place: clip(top?.summary ?? '', 100),
        detail: clip(`${items.length} cảnh báo trong ${minutes} phút`, 200),
        severity: top ? SEVERITY_VI[top.severity] : '',
        time: vnTime(at, true),
        alert_id: 'digest',
      },
    },
  }
}

export function testMessage(
  name: string,
  channel: 'sms' | 'zalo_zns' | 'zalo_oa',
  ctx: RenderContext,
  at: string,
): Pick<OutgoingMessage, 'text' | 'template'> {
  if (channel === 'sms')
    return { text: fit([`${ctx.sender}: Tin nhan thu gui `, name, `. He thong canh bao hoat dong binh thuong (${vnTime(at)}).`], 1) }
  const text = `${ctx.sender}: Tin nhắn thử gửi ${name}. Hệ thống cảnh báo hoạt động bình thường (${vnTime(at, true)}).`
  if (channel === 'zalo_oa') return { text }
  return { text, template: { name: 'test', data: { name: clip(name, 30), time: vnTime(at, true) } } }
}
