import { createContext } from 'preact'
import { useContext } from 'preact/hooks'

// Every string the console shows, one dictionary per language. Vietnamese is the default (the
// operations centre's language); English is a switch kept in localStorage.

const vi = {
  'app.title': 'Trung tâm điều hành IOC',
  'app.skip': 'Bỏ qua đến nội dung chính',
  'lang.label': 'Ngôn ngữ',
  'lang.switch': 'English',
  'lang.switchName': 'Chuyển sang tiếng Anh',
  'login.heading': 'Đăng nhập',
  'login.intro': 'Bảng điều khiển cảnh báo của trung tâm điều hành.',
  'login.username': 'Tên đăng nhập',
  'login.password': 'Mật khẩu',
  'login.submit': 'Đăng nhập',
  'login.busy': 'Đang đăng nhập…',
  'login.wrong': 'Sai tên đăng nhập hoặc mật khẩu.',
  'login.limited': 'Quá nhiều lần thử. Hãy thử lại sau {seconds} giây.',
  'login.expired': 'Phiên làm việc đã hết hạn. Hãy đăng nhập lại.',
  'login.unavailable': 'Máy chủ chưa hỗ trợ đăng nhập bằng tài khoản.',
  'error.network': 'Không kết nối được tới máy chủ.',
  'error.server': 'Máy chủ báo lỗi: {message}',
  'user.signedIn': 'Đăng nhập: {name} ({role})',
  'user.logout': 'Đăng xuất',
  'role.admin': 'quản trị',
  'role.officer': 'trực ban',
  'role.technician': 'kỹ thuật',
  'role.viewer': 'xem',
  'board.heading': 'Bảng cảnh báo',
  'board.count': '{shown} / {total} cảnh báo đang mở hoặc đã xác nhận',
  'board.empty': 'Không có cảnh báo nào đang mở.',
  'board.emptyFiltered': 'Không có cảnh báo nào khớp bộ lọc.',
  'board.loading': 'Đang tải cảnh báo…',
  'live.on': 'Trực tiếp',
  'live.off': 'Mất kết nối, đang thử lại…',
  'filter.heading': 'Bộ lọc',
  'filter.active': 'Bộ lọc ({count} đang dùng)',
  'filter.kind': 'Loại',
  'filter.station': 'Trạm',
  'filter.district': 'Quận/huyện',
  'filter.severity': 'Mức độ',
  'filter.all': 'Tất cả',
  'filter.clear': 'Xóa bộ lọc',
  'kind.water_level': 'Mực nước',
  'kind.rise_rate': 'Tốc độ lũ lên',
  'kind.rainfall': 'Lượng mưa',
  'kind.aqi': 'Chất lượng không khí',
  'kind.silence': 'Thiết bị mất tín hiệu',
  'kind.congestion': 'Ùn tắc giao thông',
  'kind.water_in_zone': 'Ngập trong vùng',
  'severity.info': 'Thông tin',
  'severity.minor': 'Nhẹ',
  'severity.major': 'Nghiêm trọng',
  'severity.critical': 'Khẩn cấp',
  'state.open': 'Đang mở',
  'state.acknowledged': 'Đã xác nhận',
  'state.resolved': 'Đã xử lý',
  'alert.level': 'Báo động cấp {level}',
  'alert.value': 'Giá trị {value}{unit} (ngưỡng {threshold}{unit})',
  'alert.valueOnly': 'Giá trị {value}{unit}',
  'alert.station': 'Trạm {station}',
  'alert.district': '{district}',
  'alert.device': 'Thiết bị {device}',
  'alert.zone': 'Vùng {zone}',
  'alert.opened': 'Mở lúc {time}',
  'alert.updated': 'Cập nhật {time}',
  'alert.ackBy': 'Xác nhận bởi {by} lúc {time}',
  'alert.resolvedBy': 'Xử lý bởi {by} lúc {time}',
  'alert.late': 'Dữ liệu gửi muộn',
  'alert.ack': 'Xác nhận',
  'alert.resolve': 'Đã xử lý',
  'alert.history': 'Lịch sử',
  'action.ackTitle': 'Xác nhận cảnh báo',
  'action.resolveTitle': 'Đánh dấu đã xử lý',
  'action.note': 'Ghi chú (không bắt buộc)',
  'action.cancel': 'Hủy',
  'action.busy': 'Đang gửi…',
  'action.conflict': 'Cảnh báo đã thay đổi trạng thái; danh sách đã được cập nhật.',
  'banner.new': 'Cảnh báo mới',
  'banner.view': 'Xem',
  'banner.dismiss': 'Đóng thông báo',
  'history.heading': 'Lịch sử cảnh báo',
  'history.back': 'Quay lại bảng cảnh báo',
  'history.when': 'Thời điểm',
  'history.action': 'Sự kiện',
  'history.severity': 'Mức độ',
  'history.value': 'Giá trị',
  'history.by': 'Người thực hiện',
  'history.note': 'Ghi chú',
  'history.notFound': 'Không tìm thấy cảnh báo này.',
  'historyAction.opened': 'Mở',
  'historyAction.raised': 'Tăng mức',
  'historyAction.lowered': 'Giảm mức',
  'historyAction.acknowledged': 'Xác nhận',
  'historyAction.resolved': 'Đã xử lý',
  'historyAction.escalated': 'Chuyển cấp',
  'by.system': 'hệ thống',
} as const

export type Key = keyof typeof vi

const en: Record<Key, string> = {
  'app.title': 'IOC Operations Centre',
  'app.skip': 'Skip to main content',
  'lang.label': 'Language',
  'lang.switch': 'Tiếng Việt',
  'lang.switchName': 'Switch to Vietnamese',
  'login.heading': 'Log in',
  'login.intro': 'Alert console of the operations centre.',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.busy': 'Logging in…',
  'login.wrong': 'Wrong username or password.',
  'login.limited': 'Too many attempts. Try again in {seconds} seconds.',
  'login.expired': 'Your session has expired. Please log in again.',
  'login.unavailable': 'The server does not support account login yet.',
  'error.network': 'Cannot reach the server.',
  'error.server': 'The server answered with an error: {message}',
  'user.signedIn': 'Signed in: {name} ({role})',
  'user.logout': 'Log out',
  'role.admin': 'admin',
  'role.officer': 'officer',
  'role.technician': 'technician',
  'role.viewer': 'viewer',
  'board.heading': 'Alerts board',
  'board.count': '{shown} / {total} open or acknowledged alerts',
  'board.empty': 'No open alerts.',
  'board.emptyFiltered': 'No alert matches the filters.',
  'board.loading': 'Loading alerts…',
  'live.on': 'Live',
  'live.off': 'Disconnected, retrying…',
  'filter.heading': 'Filters',
  'filter.active': 'Filters ({count} in use)',
  'filter.kind': 'Kind',
  'filter.station': 'Station',
  'filter.district': 'District',
  'filter.severity': 'Severity',
  'filter.all': 'All',
  'filter.clear': 'Clear filters',
  'kind.water_level': 'Water level',
  'kind.rise_rate': 'Rise rate',
  'kind.rainfall': 'Rainfall',
  'kind.aqi': 'Air quality',
  'kind.silence': 'Device silent',
  'kind.congestion': 'Traffic congestion',
  'kind.water_in_zone': 'Water in zone',
  'severity.info': 'Info',
  'severity.minor': 'Minor',
  'severity.major': 'Major',
  'severity.critical': 'Critical',
  'state.open': 'Open',
  'state.acknowledged': 'Acknowledged',
  'state.resolved': 'Resolved',
  'alert.level': 'Alarm level {level}',
  'alert.value': 'Value {value}{unit} (threshold {threshold}{unit})',
  'alert.valueOnly': 'Value {value}{unit}',
  'alert.station': 'Station {station}',
  'alert.district': '{district}',
  'alert.device': 'Device {device}',
  'alert.zone': 'Zone {zone}',
  'alert.opened': 'Opened {time}',
  'alert.updated': 'Updated {time}',
  'alert.ackBy': 'Acknowledged by {by} at {time}',
  'alert.resolvedBy': 'Resolved by {by} at {time}',
  'alert.late': 'Late data',
  'alert.ack': 'Acknowledge',
  'alert.resolve': 'Resolve',
  'alert.history': 'History',
  'action.ackTitle': 'Acknowledge alert',
  'action.resolveTitle': 'Resolve alert',
  'action.note': 'Note (optional)',
  'action.cancel': 'Cancel',
  'action.busy': 'Sending…',
  'action.conflict': 'The alert changed state; the list has been refreshed.',
  'banner.new': 'New alert',
  'banner.view': 'View',
  'banner.dismiss': 'Dismiss notice',
  'history.heading': 'Alert history',
  'history.back': 'Back to the alerts board',
  'history.when': 'When',
  'history.action': 'Event',
  'history.severity': 'Severity',
  'history.value': 'Value',
  'history.by': 'By',
  'history.note': 'Note',
  'history.notFound': 'This alert was not found.',
  'historyAction.opened': 'Opened',
  'historyAction.raised': 'Raised',
  'historyAction.lowered': 'Lowered',
  'historyAction.acknowledged': 'Acknowledged',
  'historyAction.resolved': 'Resolved',
  'historyAction.escalated': 'Escalated',
  'by.system': 'system',
}

export type Lang = 'vi' | 'en'
export const DICTIONARIES: Record<Lang, Record<Key, string>> = { vi, en }
const STORAGE_KEY = 'iocgw.lang'

export function initialLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'vi'
  } catch {
    return 'vi'
  }
}

export function storeLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang)
  } catch {
    // Private mode or storage disabled: the choice lasts for this page only.
  }
  document.documentElement.lang = lang
}

export type Translate = (key: Key, params?: Record<string, string | number>) => string

export function translator(lang: Lang): Translate {
  const dict = DICTIONARIES[lang]
  return (key, params) => {
    const text = dict[key]
    return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m)) : text
  }
}

/** Date and time in the operations centre's zone, whatever the device's zone is. */
export function formatTime(lang: Lang, iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh',
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(d)
}

/** Decimal comma in Vietnamese (2,15 m), point in English. */
export function formatNumber(lang: Lang, n: number): string {
  return new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 2 }).format(n)
}

export interface I18n {
  lang: Lang
  t: Translate
  setLang(lang: Lang): void
}

export const I18nContext = createContext<I18n>({ lang: 'vi', t: translator('vi'), setLang: () => {} })
export const useI18n = (): I18n => useContext(I18nContext)
